"""Classic A/B statistics and always-valid (anytime) tests, standard library only.

Everything here is pure Python (``math`` + ``statistics.NormalDist``) so it fits a small
Lambda package. Bad input raises ``ValueError`` naming the offending argument; no function
returns a silent NaN.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from statistics import NormalDist

__all__ = [
    "ZTestResult",
    "z_test_means",
    "z_test_means_summary",
    "z_test_proportions",
    "required_sample_size",
    "required_sample_size_proportions",
    "obrien_fleming_spending",
    "group_sequential_boundaries",
    "msprt_likelihood_ratio",
    "msprt_p_value",
    "confidence_sequence",
    "log_mixture_lr_normal",
    "log_mixture_lr_event_split",
    "log_mixture_lr_bernoulli",
    "logsumexp",
    "normal_log_lr",
    "normal_log_lr_grad",
    "split_log_lr",
]

_N = NormalDist()
_SQRT2 = math.sqrt(2.0)


def _cdf(x: float) -> float:
    # Phi via erfc: NormalDist.cdf uses 1 + erf and underflows to 0 below about -8.
    return 0.5 * math.erfc(-x / _SQRT2)


# --------------------------------------------------------------------------- validation


def _finite(name: str, value: object) -> float:
    # bool is an int subclass; a True/False here is always a caller bug.
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{name}: must be a number, got {value!r}")
    x = float(value)
    if not math.isfinite(x):
        raise ValueError(f"{name}: must be finite, got {value!r}")
    return x


def _count(name: str, value: object) -> int:
    x = _finite(name, value)
    if x < 0:
        raise ValueError(f"{name}: must be >= 0, got {value!r}")
    if x != int(x):
        raise ValueError(f"{name}: must be a whole number, got {value!r}")
    return int(x)


def _positive_count(name: str, value: object) -> int:
    n = _count(name, value)
    if n == 0:
        raise ValueError(f"{name}: must be > 0 (no observations)")
    return n


def _alpha(value: object, name: str = "alpha", upper: float = 1.0) -> float:
    a = _finite(name, value)
    if not 0.0 < a < upper:
        raise ValueError(f"{name}: must be in (0, {upper:g}), got {value!r}")
    return a


def _prob_open(name: str, value: object) -> float:
    p = _finite(name, value)
    if not 0.0 < p < 1.0:
        raise ValueError(f"{name}: must be in (0, 1), got {value!r}")
    return p


def _positive(name: str, value: object) -> float:
    x = _finite(name, value)
    if x <= 0:
        raise ValueError(f"{name}: must be > 0, got {value!r}")
    return x


def logsumexp(values: Sequence[float]) -> float:
    """log(sum_j exp(v_j)), computed stably as m + log(sum_j exp(v_j - m)), m = max_j v_j."""
    if not values:
        raise ValueError("values: must not be empty")
    m = max(values)
    if m == -math.inf:
        return -math.inf
    return m + math.log(math.fsum(math.exp(v - m) for v in values))


# --------------------------------------------------------------------------- z-tests


@dataclass(frozen=True)
class ZTestResult:
    """Result of a two-sample z-test; ``effect`` is mean_b - mean_a."""

    z: float
    p_value: float
    significant: bool
    effect: float
    n_a: int
    n_b: int
    mean_a: float
    mean_b: float
    winner: str  # "A", "B" or "no_difference"
    alpha: float


def _z_result(
    mean_a: float,
    mean_b: float,
    se: float,
    n_a: int,
    n_b: int,
    alpha: float,
    higher_is_better: bool,
) -> ZTestResult:
    z = (mean_a - mean_b) / se
    p = min(1.0, 2.0 * _cdf(-abs(z)))  # = 2(1 - Phi(|z|)) without cancellation
    significant = p < alpha
    effect = mean_b - mean_a
    if not significant or effect == 0:
        winner = "no_difference"
    elif (effect > 0) == higher_is_better:
        winner = "B"
    else:
        winner = "A"
    return ZTestResult(z, p, significant, effect, n_a, n_b, mean_a, mean_b, winner, alpha)


def z_test_means_summary(
    mean_a: float,
    std_a: float,
    n_a: int,
    mean_b: float,
    std_b: float,
    n_b: int,
    alpha: float = 0.05,
    higher_is_better: bool = True,
) -> ZTestResult:
    """Two-sample z-test from summaries.

    z = (mean_a - mean_b) / sqrt(s_a^2/n_a + s_b^2/n_b), p = 2(1 - Phi(|z|)).
    ``winner`` is the significantly better arm ("A"/"B") given ``higher_is_better``.
    """
    ma, mb = _finite("mean_a", mean_a), _finite("mean_b", mean_b)
    sa, sb = _finite("std_a", std_a), _finite("std_b", std_b)
    if sa < 0:
        raise ValueError(f"std_a: must be >= 0, got {std_a!r}")
    if sb < 0:
        raise ValueError(f"std_b: must be >= 0, got {std_b!r}")
    na, nb = _positive_count("n_a", n_a), _positive_count("n_b", n_b)
    a = _alpha(alpha)
    var = sa * sa / na + sb * sb / nb
    if var <= 0:
        raise ValueError("std_a, std_b: zero variance in both groups, the z-test is undefined")
    return _z_result(ma, mb, math.sqrt(var), na, nb, a, higher_is_better)


def _summary(name: str, xs: Sequence[float]) -> tuple[float, float, int]:
    n = len(xs)
    if n < 2:
        raise ValueError(f"{name}: needs at least 2 observations, got {n}")
    vals = [_finite(f"{name}[{i}]", x) for i, x in enumerate(xs)]
    mean = math.fsum(vals) / n
    var = math.fsum((v - mean) ** 2 for v in vals) / (n - 1)
    return mean, math.sqrt(var), n


def z_test_means(
    a: Sequence[float],
    b: Sequence[float],
    alpha: float = 0.05,
    higher_is_better: bool = True,
) -> ZTestResult:
    """Two-sample z-test on raw samples (sample std with n-1).

    z = (mean_a - mean_b) / sqrt(s_a^2/n_a + s_b^2/n_b), p = 2(1 - Phi(|z|)).
    """
    ma, sa, na = _summary("a", a)
    mb, sb, nb = _summary("b", b)
    return z_test_means_summary(ma, sa, na, mb, sb, nb, alpha, higher_is_better)


def z_test_proportions(
    x_a: int,
    n_a: int,
    x_b: int,
    n_b: int,
    alpha: float = 0.05,
    higher_is_better: bool = True,
) -> ZTestResult:
    """Pooled two-proportion z-test.

    p_hat = (x_a + x_b)/(n_a + n_b), z = (x_a/n_a - x_b/n_b) / sqrt(p_hat(1-p_hat)(1/n_a + 1/n_b)),
    p = 2(1 - Phi(|z|)). ``mean_a``/``mean_b`` are the two rates.
    """
    xa, na = _count("x_a", x_a), _positive_count("n_a", n_a)
    xb, nb = _count("x_b", x_b), _positive_count("n_b", n_b)
    if xa > na:
        raise ValueError(f"x_a: events must be <= trials ({xa} > {na})")
    if xb > nb:
        raise ValueError(f"x_b: events must be <= trials ({xb} > {nb})")
    a = _alpha(alpha)
    pooled = (xa + xb) / (na + nb)
    var = pooled * (1.0 - pooled) * (1.0 / na + 1.0 / nb)
    if var <= 0:
        raise ValueError("x_a, x_b: pooled rate is 0 or 1, zero variance, the z-test is undefined")
    return _z_result(xa / na, xb / nb, math.sqrt(var), na, nb, a, higher_is_better)


# --------------------------------------------------------------------------- sample size


def required_sample_size(
    delta: float,
    sigma_a: float,
    sigma_b: float | None = None,
    alpha: float = 0.05,
    power: float = 0.8,
    two_sided: bool = True,
    ratio: float = 1.0,
) -> int:
    """Sample size of group b for detecting a mean difference ``delta``.

    n_b = ceil((z_{alpha/2} + z_beta)^2 (sigma_a^2/ratio + sigma_b^2) / delta^2), with
    z_alpha instead of z_{alpha/2} when one-sided and n_a = ratio * n_b. With ratio = 1 this is
    the per-group n = (z_{alpha/2} + z_beta)^2 (sigma_a^2 + sigma_b^2) / delta^2.
    """
    d = _finite("delta", delta)
    if d == 0:
        raise ValueError("delta: must be non-zero")
    sa = _finite("sigma_a", sigma_a)
    sb = sa if sigma_b is None else _finite("sigma_b", sigma_b)
    if sa < 0:
        raise ValueError(f"sigma_a: must be >= 0, got {sigma_a!r}")
    if sb < 0:
        raise ValueError(f"sigma_b: must be >= 0, got {sigma_b!r}")
    a = _alpha(alpha, upper=1.0)
    pw = _prob_open("power", power)
    r = _positive("ratio", ratio)
    var = sa * sa / r + sb * sb
    if var <= 0:
        raise ValueError("sigma_a, sigma_b: zero variance, the sample size is undefined")
    z_a = _N.inv_cdf(1.0 - a / 2.0) if two_sided else _N.inv_cdf(1.0 - a)
    z_b = _N.inv_cdf(pw)
    n = (z_a + z_b) ** 2 * var / (d * d)
    # Guard against 62.999999999 -> 63 style float noise before rounding up.
    return max(1, math.ceil(n - 1e-9))


def required_sample_size_proportions(
    p_a: float,
    p_b: float,
    alpha: float = 0.05,
    power: float = 0.8,
    two_sided: bool = True,
    ratio: float = 1.0,
) -> int:
    """``required_sample_size`` with sigma_i = sqrt(p_i (1 - p_i)) and delta = p_b - p_a."""
    pa, pb = _prob_open("p_a", p_a), _prob_open("p_b", p_b)
    if pa == pb:
        raise ValueError("p_b: must differ from p_a")
    return required_sample_size(
        pb - pa,
        math.sqrt(pa * (1 - pa)),
        math.sqrt(pb * (1 - pb)),
        alpha=alpha,
        power=power,
        two_sided=two_sided,
        ratio=ratio,
    )


# --------------------------------------------------------------------------- group sequential


def obrien_fleming_spending(t: float, alpha: float) -> float:
    """Lan-DeMets O'Brien-Fleming spending: alpha(t) = 2 - 2 Phi(z_{1-alpha/2} / sqrt(t)).

    Cumulative type-I error spent by information fraction t in (0, 1]; alpha(1) = alpha.
    This is a *cumulative* budget, not a per-look p-value threshold.
    """
    tt = _finite("t", t)
    if not 0.0 < tt <= 1.0:
        raise ValueError(f"t: must be in (0, 1], got {t!r}")
    a = _alpha(alpha)
    return 2.0 * _cdf(-_N.inv_cdf(1.0 - a / 2.0) / math.sqrt(tt))


def _simpson_weights(m: int, h: float) -> list[float]:
    w = [h / 3.0 * (4.0 if i % 2 else 2.0) for i in range(m)]
    w[0] = w[-1] = h / 3.0
    return w


def group_sequential_boundaries(
    looks: int | Sequence[float],
    alpha: float = 0.05,
    two_sided: bool = True,
) -> list[float]:
    """Z-boundaries c_k of a Lan-DeMets O'Brien-Fleming group-sequential design.

    Each side spends alpha_s(t) = 2 - 2 Phi(z_{1-alpha_s/2}/sqrt(t)), alpha_s = alpha/2 if
    two-sided else alpha; c_k solves P(first crossing of |Z| (or Z) >= c_k at look k) =
    alpha_s(t_k) - alpha_s(t_{k-1}) (per side), by recursive numerical integration of the
    score S_k = Z_k sqrt(t_k), whose increments are N(0, t_k - t_{k-1}) (Armitage et al. 1969).
    ``looks`` is K equally spaced looks or increasing information fractions in (0, 1].
    Two-sided, 5 looks, alpha 0.05: 4.877, 3.357, 2.680, 2.290, 2.031.
    """
    if isinstance(looks, bool):
        raise ValueError(f"looks: must be an int or a sequence of fractions, got {looks!r}")
    if isinstance(looks, int):
        if looks < 1:
            raise ValueError(f"looks: must be >= 1, got {looks}")
        ts = [(k + 1) / looks for k in range(looks)]
    else:
        if len(looks) == 0:
            raise ValueError("looks: must not be empty")
        ts = [_finite(f"looks[{i}]", t) for i, t in enumerate(looks)]
        for i, t in enumerate(ts):
            if not 0.0 < t <= 1.0:
                raise ValueError(f"looks[{i}]: must be in (0, 1], got {t!r}")
            if i and t <= ts[i - 1]:
                raise ValueError(f"looks[{i}]: fractions must be strictly increasing")
    a = _alpha(alpha)
    side = a / 2.0 if two_sided else a
    spent = [obrien_fleming_spending(t, side) for t in ts]

    bounds: list[float] = []
    grid: list[float] = []  # score values where the continuation sub-density is known
    dens: list[float] = []  # sub-density of S_{k-1} on `grid`, paths not yet stopped
    wts: list[float] = []  # Simpson weights for `grid`
    prev_t, prev_spent = 0.0, 0.0
    for k, t in enumerate(ts):
        target = spent[k] - prev_spent  # per side
        sd = math.sqrt(t - prev_t)
        sqrt_t = math.sqrt(t)
        # Continuing paths as (score, Simpson weight x sub-density); at the first look the
        # crossing probability is a plain normal tail instead.
        pts = tuple((u, w * f) for u, f, w in zip(grid, dens, wts, strict=True))

        def cross(
            c: float,
            sd: float = sd,
            sqrt_t: float = sqrt_t,
            pts: tuple[tuple[float, float], ...] = pts,
            first: bool = k == 0,
        ) -> float:
            if first:
                return _cdf(-c * sqrt_t / sd)
            b = c * sqrt_t
            return math.fsum(wf * _cdf((u - b) / sd) for u, wf in pts)

        # Upper-tail crossing probability (the lower tail is its mirror image by symmetry).
        lo_c, hi_c = 0.0, 40.0
        if target <= 0.0:
            c = math.inf
        else:
            for _ in range(100):
                mid = 0.5 * (lo_c + hi_c)
                if cross(mid) > target:
                    lo_c = mid
                else:
                    hi_c = mid
                if hi_c - lo_c < 1e-9:
                    break
            c = 0.5 * (lo_c + hi_c)
        bounds.append(c)
        if k == len(ts) - 1:
            break
        # Sub-density of S_k on the continuation region, by Simpson's rule with the Gaussian
        # kernel truncated at +-9 sd (the rest is < 1e-18 of the mass).
        upper = min(c, 12.0) * sqrt_t
        lower = -upper if two_sided else -12.0 * sqrt_t
        # The grid step must resolve the *next* increment's kernel, hence sd_next.
        sd_next = math.sqrt(ts[k + 1] - t)
        h_target = min(sd, sd_next) / 10.0
        m = max(201, int(math.ceil((upper - lower) / h_target)) | 1)
        if m % 2 == 0:
            m += 1
        h = (upper - lower) / (m - 1)
        new_grid = [lower + i * h for i in range(m)]
        if k == 0:
            new_dens = [_N.pdf(s / sd) / sd for s in new_grid]
        else:
            # Old grid is uniform: only indices within +-reach of s contribute.
            reach = 9.0 * sd
            u0, hu, mu = grid[0], grid[1] - grid[0], len(grid)
            wf = [w * f for w, f in zip(wts, dens, strict=True)]
            inv = 1.0 / sd
            norm = inv / math.sqrt(2.0 * math.pi)
            new_dens = []
            for s in new_grid:
                i_lo = max(0, int(math.ceil((s - reach - u0) / hu)))
                i_hi = min(mu - 1, int(math.floor((s + reach - u0) / hu)))
                acc = 0.0
                for i in range(i_lo, i_hi + 1):
                    e = (s - grid[i]) * inv
                    acc += wf[i] * math.exp(-0.5 * e * e)
                new_dens.append(acc * norm)
        grid, dens, wts = new_grid, new_dens, _simpson_weights(m, h)
        prev_t, prev_spent = t, spent[k]
    return bounds


# --------------------------------------------------------------------------- always valid


def _variance(value: object, name: str = "variance") -> float:
    v = _finite(name, value)
    if v <= 0:
        raise ValueError(f"{name}: must be > 0 (zero variance), got {value!r}")
    return v


def msprt_likelihood_ratio(
    estimate: float, variance: float, tau: float, one_sided: bool = True
) -> float:
    """Normal-mixture SPRT statistic for H0: theta <= 0 (one-sided) or theta = 0.

    With x = estimate ~ N(theta, V) and mixing prior theta ~ N(0, tau^2) (two-sided) or its
    half-normal on theta > 0 (one-sided):
      two-sided  L = sqrt(V/(V+tau^2)) exp(tau^2 x^2 / (2 V (V+tau^2)))
      one-sided  L = 2 sqrt(V/(V+tau^2)) exp(tau^2 x^2 / (2 V (V+tau^2)))
                     * Phi(tau x / sqrt(V (V+tau^2)))
    L is a nonnegative (super)martingale under H0, so P(sup_n L_n >= 1/alpha) <= alpha
    (Ville): rejecting when L >= 1/alpha is valid at any number of looks (Johari et al. 2017).
    """
    x = _finite("estimate", estimate)
    v = _variance(variance)
    t2 = _positive("tau", tau) ** 2
    s = v + t2
    log_l = 0.5 * math.log(v / s) + t2 * x * x / (2.0 * v * s)
    if one_sided:
        log_l += math.log(2.0) + _log_phi(math.sqrt(t2) * x / math.sqrt(v * s))
    return math.exp(min(log_l, 700.0))


def msprt_p_value(estimate: float, variance: float, tau: float, one_sided: bool = True) -> float:
    """Always-valid p-value p = min(1, 1/L) of ``msprt_likelihood_ratio``."""
    return min(1.0, 1.0 / msprt_likelihood_ratio(estimate, variance, tau, one_sided))


def confidence_sequence(
    estimate: float, variance: float, tau: float, alpha: float = 0.05
) -> tuple[float, float]:
    """Two-sided normal-mixture confidence sequence: estimate -+ r, always valid at level alpha.

    r = sqrt(V (V + tau^2) / tau^2 * (2 log(1/alpha) + log((V + tau^2)/V))), the set of theta
    whose two-sided mixture statistic stays below 1/alpha; P(exists n: theta outside) <= alpha.
    """
    x = _finite("estimate", estimate)
    v = _variance(variance)
    t2 = _positive("tau", tau) ** 2
    a = _alpha(alpha)
    r = math.sqrt(v * (v + t2) / t2 * (2.0 * math.log(1.0 / a) + math.log((v + t2) / v)))
    return x - r, x + r


def _log_phi(z: float) -> float:
    # log Phi(z); for very negative z use the Mills-ratio asymptote to avoid log(0).
    if z > -30.0:
        return math.log(_cdf(z))
    return -0.5 * z * z - math.log(-z) - 0.5 * math.log(2.0 * math.pi)


def _mixture(alternatives: Sequence[float], weights: Sequence[float]) -> list[float]:
    if len(alternatives) == 0:
        raise ValueError("alternatives: must not be empty")
    if len(weights) != len(alternatives):
        raise ValueError("weights: must have one weight per alternative")
    ws = [_finite(f"weights[{i}]", w) for i, w in enumerate(weights)]
    if any(w < 0 for w in ws) or sum(ws) <= 0:
        raise ValueError("weights: must be >= 0 with a positive sum")
    total = math.fsum(ws)
    return [math.log(w / total) if w > 0 else -math.inf for w in ws]


def log_mixture_lr_normal(
    estimate: float,
    variance: float,
    alternatives: Sequence[float],
    weights: Sequence[float],
) -> float:
    """log L for x ~ N(theta, V), H0: theta = 0 against a discrete mixture of alternatives.

    L = sum_j w_j exp((theta_j x - theta_j^2/2) / V), w normalised to 1. With all theta_j > 0
    it is a supermartingale under H0: theta <= 0 (one-sided, always valid via Ville).
    """
    x = _finite("estimate", estimate)
    v = _variance(variance)
    lw = _mixture(alternatives, weights)
    terms = []
    for j, th in enumerate(alternatives):
        t = _finite(f"alternatives[{j}]", th)
        terms.append(lw[j] + (t * x - 0.5 * t * t) / v)
    return logsumexp(terms)


def log_mixture_lr_event_split(
    events_canary: int,
    events_total: int,
    share: float,
    rate_ratios: Sequence[float],
    weights: Sequence[float],
) -> float:
    """Exact conditional test of equal event rates from how events split between two arms.

    If a request lands in the canary with probability pi (= ``share``) and both arms have the
    same event rate, each event is a canary event with probability pi. For a canary/baseline
    rate ratio r the probability is q(r) = pi r / (pi r + 1 - pi). With x canary events of T:
      L = sum_j w_j (q_j/pi)^x ((1 - q_j)/(1 - pi))^(T - x),  q_j = q(r_j).
    All r_j > 1: supermartingale under H0: r <= 1; all r_j < 1: under H0: r >= 1.
    """
    x, t = _events_of("events_canary", events_canary, "events_total", events_total)
    pi = _prob_open("share", share)

    def term(j: int, r: float) -> float:
        rr = _positive(f"rate_ratios[{j}]", r)
        # log(q/pi) = log r - log(pi r + 1 - pi); log((1-q)/(1-pi)) = -log(pi r + 1 - pi)
        return x * math.log(rr) - t * math.log(pi * rr + 1.0 - pi)

    return _log_mixture(rate_ratios, weights, term)


def log_mixture_lr_bernoulli(
    events: int,
    trials: int,
    p0: float,
    alternatives: Sequence[float],
    weights: Sequence[float],
) -> float:
    """log L for H0: p <= p0 on Bernoulli data, exact for any n.

    L = sum_j w_j (p_j/p0)^x ((1 - p_j)/(1 - p0))^(n - x), all p_j > p0: a supermartingale under
    H0, so rejecting at L >= 1/alpha is valid at any look (Ville's inequality).
    """
    x, n = _events_of("events", events, "trials", trials)
    p = _prob_open("p0", p0)

    def term(j: int, pj: float) -> float:
        q = _prob_open(f"alternatives[{j}]", pj)
        return x * math.log(q / p) + (n - x) * (math.log1p(-q) - math.log1p(-p))

    return _log_mixture(alternatives, weights, term)


def _events_of(events_name: str, events: int, total_name: str, total: int) -> tuple[int, int]:
    """Validated (events, total) counts, events <= total."""
    x, t = _count(events_name, events), _count(total_name, total)
    if x > t:
        raise ValueError(f"{events_name}: must be <= {total_name} ({x} > {t})")
    return x, t


def _log_mixture(
    points: Sequence[float], weights: Sequence[float], term: Callable[[int, float], float]
) -> float:
    """log sum_j w_j exp(term(j, points[j])), the weights validated and normalised."""
    lw = _mixture(points, weights)
    return logsumexp([lw[j] + term(j, point) for j, point in enumerate(points)])


# --------------------------------------------------------------------------- unchecked kernels
# Fast variants of the log mixture likelihood ratios above for callers that validate their
# inputs once: the judge evaluates these inside root finders, where re-validating every call
# would cost more than the arithmetic. They check nothing; bad input gives a wrong number or
# an arithmetic error, never a ValueError naming the argument.


def _lse(terms: list[float]) -> float:
    m = max(terms)
    if m == -math.inf:
        return m
    exp = math.exp
    return m + math.log(sum([exp(t - m) for t in terms]))


def normal_log_lr(x: float, v: float, thetas: Sequence[float], log_w: Sequence[float]) -> float:
    """Unchecked ``log_mixture_lr_normal``; v > 0, ``log_w`` the logs of normalised weights."""
    inv = 1.0 / v
    return _lse([lw + (th * x - 0.5 * th * th) * inv for th, lw in zip(thetas, log_w, strict=True)])


def normal_log_lr_grad(
    x: float, v: float, thetas: Sequence[float], log_w: Sequence[float]
) -> tuple[float, float]:
    """Unchecked: ``normal_log_lr`` and its derivative in x, E_posterior[theta] / v."""
    inv = 1.0 / v
    terms = [lw + (th * x - 0.5 * th * th) * inv for th, lw in zip(thetas, log_w, strict=True)]
    m = max(terms)
    exp = math.exp
    es = [exp(t - m) for t in terms]
    total = sum(es)
    mean_theta = sum([e * th for e, th in zip(es, thetas, strict=True)]) / total
    return m + math.log(total), mean_theta * inv


def split_log_lr(
    x: int, t: int, logit_share: float, log_ratios: Sequence[float], log_w: Sequence[float]
) -> float:
    """Unchecked ``log_mixture_lr_event_split``: the null share as its log-odds, log ratios.

    log(pi r + 1 - pi) = softplus(lambda + log r) - softplus(lambda), lambda = logit(pi).
    """
    # softplus inlined: this is the judge's innermost loop.
    log1p, exp = math.log1p, math.exp
    lam = logit_share
    base = lam + log1p(exp(-lam)) if lam > 0 else log1p(exp(lam))
    terms = []
    for lr, lw in zip(log_ratios, log_w, strict=True):
        y = lam + lr
        sp = y + log1p(exp(-y)) if y > 0 else log1p(exp(y))
        terms.append(lw + x * lr - t * (sp - base))
    return _lse(terms)
