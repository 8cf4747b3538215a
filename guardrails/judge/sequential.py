"""The judge's always-valid per-metric tests and the confidence bounds that invert them.

Each test is a nonnegative supermartingale under its null, so rejecting when its log
likelihood ratio reaches log(1/level) is valid however often it is looked at (Ville):

* regression (rollback): the fleets are compared within each minute and the comparisons
  multiplied (stratified): an exact event-split mixture for proportions, a normal mixture on
  the per-minute differences for means, tuned for a regression of DESIGN_EFFECT x margin. In
  the per-minute form the statistic is a mixture of the whole-rollout test (1 - LATE_SHARE of
  the weight) and tests restarted every RESTART_EVERY minutes (LATE_SHARE), so a regression
  that starts late is not diluted by the minutes before it;
* non-inferiority (promote): normal mixture at d = margin on the stratified difference;
* limit (rollback): the canary beyond its absolute ``limit`` *and* worse than the baseline,
  minute by minute, so a shared outage is not the canary's fault.

A cumulative request is one stratum with no restarts: the tests are then the classic ones.
Bounds come from inverting the tests by root finding. Standard library only.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from itertools import accumulate
from statistics import NormalDist

from guardrails.judge.request import Arm, MeanMinute, Metric, Minute
from guardrails.stats import normal_log_lr, normal_log_lr_grad

__all__ = [
    "DESIGN_EFFECT",
    "DIFF_MINUTES",
    "FIT_MIN_COUNT",
    "LATE_SHARE",
    "MAX_MEAN_SKEW",
    "MIN_DIFF_MINUTES",
    "RECENT_MINUTES",
    "RESTARTS",
    "RESTART_EVERY",
    "STD_FLOOR",
    "Layout",
    "MetricTests",
    "layout",
    "mean_tests",
    "proportion_tests",
]

# The rollback test is tuned to detect a regression of DESIGN_EFFECT x margin fastest.
DESIGN_EFFECT = 2.0
# Mean metrics: per-arm std is floored at margin * STD_FLOOR so zero variance cannot divide
# by zero or make a handful of identical values look infinitely precise.
STD_FLOOR = 0.25
# Per-minute form: share of each regression test's alpha spent on restarted tests, restarted
# every RESTART_EVERY minutes after warm-up, RESTARTS of them (the default 120-minute bake).
LATE_SHARE = 0.2
RESTART_EVERY = 10
RESTARTS = 12
# Promotion also waits while the last RECENT_MINUTES minutes alone put the canary beyond the
# margin by more than their standard error (a brake on shipping a regression that has just
# begun; it can only delay).
RECENT_MINUTES = 10
# Latency spread: a fleet's minute enters the shape fit with at least FIT_MIN_COUNT requests
# (p99 with at least P99_MIN_COUNT). The spread of the per-minute differences joins it from
# DIFF_MINUTES compared minutes on (fewer successive differences say too little), and
# without percentiles or min/max it is trusted alone from MIN_DIFF_MINUTES minutes on.
FIT_MIN_COUNT = 20
P99_MIN_COUNT = 100
DIFF_MINUTES = 5
MIN_DIFF_MINUTES = 10
# A mean of right-skewed latencies is far from normal until it has many requests: its upper
# tail makes a normal test roll back too often. A regression test of a mean (the whole
# rollout's and each restart's) counts only once the canary's mean has skewness at most
# MAX_MEAN_SKEW, i.e. gamma^2 / MAX_MEAN_SKEW^2 canary requests for the fitted per-request
# skewness gamma (log-normal, log-scale sd 1: gamma 6.2, about 420 requests).
MAX_MEAN_SKEW = 0.3

# Mixing distribution of the regression and non-inferiority tests, in units of the effect
# each test is tuned for. 97% of the weight sits on five points 0.75 ... 1.25 (Gaussian
# weights, sd 0.25): close to a point alternative, which is what brings detection near
# Wald's SPRT. 3% sits on 1/16, 1/4, 4 and 16 so that much smaller and much larger effects
# are still detected and the confidence sequence keeps shrinking (its width is floored at
# 1/32 of the tuned effect). Any fixed positive weights give a valid test; these were tuned
# with bench/judge_oc.py.
_CORE = tuple(1.0 + 0.125 * k for k in range(-2, 3))
_CORE_W = tuple(math.exp(-0.5 * (0.125 * k / 0.25) ** 2) for k in range(-2, 3))
_WIDE = (1 / 16, 1 / 4, 4.0, 16.0)
_WIDE_SHARE = 0.03
_NODES = _CORE + _WIDE
_LOG_W = tuple(
    [math.log((1.0 - _WIDE_SHARE) * w / sum(_CORE_W)) for w in _CORE_W]
    + [math.log(_WIDE_SHARE / len(_WIDE))] * len(_WIDE)
)
# Limit tests look for gross breaches: broad, equally weighted alternatives.
_LIMIT_ODDS_RATIOS = (1.5, 2.0, 3.0, 5.0, 10.0, 30.0, 100.0, 1000.0)
_LIMIT_MARGINS = (0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0)
_LIMIT_LOG_W = tuple([-math.log(len(_LIMIT_MARGINS))] * len(_LIMIT_MARGINS))
# Standard normal quantiles for the log-normal shape fit of latency percentiles.
_Z90 = NormalDist().inv_cdf(0.90)
_Z99 = NormalDist().inv_cdf(0.99)
# Median of a chi-square with one degree of freedom.
_CHI2_1_MEDIAN = NormalDist().inv_cdf(0.75) ** 2
# A fitted log-scale variance above this (CV about 3,000) is capped: already hopeless data.
_MAX_LOG_VARIANCE = 16.0


# --------------------------------------------------------------------------- helpers


def _lse(terms: Sequence[float]) -> float:
    m = max(terms)
    if m == -math.inf or m == math.inf:
        return m
    return m + math.log(sum([math.exp(t - m) for t in terms]))


def _root(
    f: Callable[[float], float], lo: float, hi: float, f_lo: float, f_hi: float, tol: float
) -> float:
    """Root of a monotone f on [lo, hi] with f_lo, f_hi of opposite signs (Illinois method)."""
    side = 0
    for _ in range(60):
        if abs(hi - lo) <= tol:
            break
        x = (lo * f_hi - hi * f_lo) / (f_hi - f_lo)
        if not lo < x < hi:  # numerical trouble: fall back to bisection
            x = 0.5 * (lo + hi)
        fx = f(x)
        if fx == 0.0:
            return x
        if (fx > 0) == (f_lo > 0):
            lo, f_lo = x, fx
            if side == -1:
                f_hi *= 0.5
            side = -1
        else:
            hi, f_hi = x, fx
            if side == 1:
                f_lo *= 0.5
            side = 1
    return 0.5 * (lo + hi)


def _bracket(
    f: Callable[[float], float],
    start: float,
    f_start: float,
    step: float,
    limit: float,
    tol: float,
) -> float:
    """Root of monotone f beyond ``start``, stepping by ``step`` (doubling) up to ``limit``.

    Returns +-inf (the sign of ``step``) when f keeps the sign of f_start up to ``limit``.
    """
    x0, f0 = start, f_start
    for _ in range(80):
        x = x0 + step
        if (step > 0 and x >= limit) or (step < 0 and x <= limit):
            x = limit
        fx = f(x)
        if (fx > 0) != (f0 > 0):
            return _root(f, x0, x, f0, fx, tol) if x0 < x else _root(f, x, x0, fx, f0, tol)
        if x == limit:
            break
        x0, f0 = x, fx
        step *= 2.0
    return math.inf if step > 0 else -math.inf


def _gauss_radius(v: float, thetas: Sequence[float], log_w: Sequence[float], level: float) -> float:
    """r with log sum_j w_j exp((theta_j r - theta_j^2/2)/v) = level (all theta_j > 0)."""
    # The left side is convex and increasing in r, so Newton's method started right of the
    # root (one term alone reaching `level` guarantees that) decreases monotonically onto it.
    r = min((v * (level - lw) + 0.5 * t * t) / t for t, lw in zip(thetas, log_w, strict=True))
    for _ in range(50):
        g, dg = normal_log_lr_grad(r, v, thetas, log_w)
        g -= level
        if g <= 1e-9 * (1.0 + level) or dg <= 0:
            break
        r -= g / dg
    return r


# --------------------------------------------------------------------------- layout


@dataclass(frozen=True)
class Layout:
    """Which minutes each test compares, and the weights of the whole and restarted tests.

    ``tested``: minutes after warm-up with data in both fleets (regression, non-inferiority).
    ``paired``: every minute with data in both fleets (limits stay live during warm-up).
    ``starts``: the first minute of each restarted test; ``log_weights`` holds the whole
    test's log weight first, then one per restart.
    """

    tested: tuple[int, ...]
    paired: tuple[int, ...]
    warmup_left: int  # canary minutes of warm-up still to come (0 once it is over)
    starts: tuple[int, ...]
    log_weights: tuple[float, ...]
    per_minute: bool


def layout(m: Metric, warmup_minutes: int) -> Layout:
    """The minutes each of the metric's tests uses.

    Warm-up counts the first ``warmup_minutes`` minutes in which the canary has data (not
    from the update's start: provisioning takes minutes). Which minutes are left out depends
    on traffic only, never on the values measured, so every test stays valid.
    """
    if m.minutes is None:
        return Layout((0,), (0,), 0, (), (0.0,), per_minute=False)
    canary_minutes = [i for i, minute in enumerate(m.minutes) if minute.canary is not None]
    paired = tuple(
        i
        for i, minute in enumerate(m.minutes)
        if minute.canary is not None and minute.baseline is not None
    )
    if len(canary_minutes) <= warmup_minutes:
        return Layout((), paired, warmup_minutes - len(canary_minutes), (), (0.0,), True)
    first = canary_minutes[warmup_minutes]
    tested = tuple(i for i in paired if i >= first)
    starts = tuple(first + RESTART_EVERY * k for k in range(1, RESTARTS + 1))
    log_weights = (
        math.log(1.0 - LATE_SHARE),
        *([math.log(LATE_SHARE / RESTARTS)] * RESTARTS),
    )
    return Layout(tested, paired, 0, starts, log_weights, True)


def before_after(m: Metric, warmup_minutes: int) -> Metric | None:
    """The metric as one before/after stratum once the fleets stop sharing minutes; else None.

    An all-at-once update moves all traffic at once: the baseline has no minute after the
    canary's warm-up, so no minute can be compared within itself. Then the canary's minutes
    after warm-up are pooled against every baseline minute, unstratified (as cumulative data
    is: a trend over the rollout is not cancelled). Which form is used depends on traffic only.
    """
    if m.minutes is None:
        return None
    canary_minutes = [i for i, minute in enumerate(m.minutes) if minute.canary is not None]
    if len(canary_minutes) <= warmup_minutes:
        return None
    first = canary_minutes[warmup_minutes]
    if any(minute.baseline is not None for minute in m.minutes[first:]):
        return None
    baseline = [minute.baseline for minute in m.minutes if minute.baseline is not None]
    canary = [minute.canary for minute in m.minutes[first:] if minute.canary is not None]
    if not baseline:
        return None
    return replace(m, minutes=(Minute(_pooled(baseline), _pooled(canary)),))


def _pooled(arms: Sequence[Arm | MeanMinute]) -> Arm | MeanMinute:
    """Several minutes of one fleet as one; percentiles as request-weighted geometric means."""
    n = sum(a.n for a in arms)
    if not isinstance(arms[0], MeanMinute):
        events = sum(a.events for a in arms if isinstance(a, Arm))
        return Arm(n=n, value=events / n, events=events)
    means = [a for a in arms if isinstance(a, MeanMinute)]
    lows = [a.low for a in means if a.low is not None]
    highs = [a.high for a in means if a.high is not None]
    complete = len(lows) == len(highs) == len(means)

    def geometric(values: Sequence[float | None]) -> float | None:
        if not complete or any(v is None or v <= 0 for v in values):
            return None
        logs = (a.n * math.log(v or 1.0) for a, v in zip(means, values, strict=True))
        return math.exp(math.fsum(logs) / n)

    return MeanMinute(
        n=n,
        total=math.fsum(a.total for a in means),
        low=min(lows) if complete else None,
        high=max(highs) if complete else None,
        p50=geometric([a.p50 for a in means]),
        p90=geometric([a.p90 for a in means]),
        p99=geometric([a.p99 for a in means]),
    )


def _blocks(times: Sequence[int], starts: Sequence[int]) -> list[int]:
    """Index in ``times`` where each restart begins (len(times) for one not begun yet)."""
    out, i = [], 0
    for start in starts:
        while i < len(times) and times[i] < start:
            i += 1
        out.append(i)
    return out


def _combine(log_ls: Sequence[float], lay: Layout) -> float:
    """log of the weighted sum of the whole test and the restarts (1 until they begin).

    ``log_ls``: the whole test, then the restarts that have begun (the earliest ones).
    """
    return _lse(
        [lw + (log_ls[k] if k < len(log_ls) else 0.0) for k, lw in enumerate(lay.log_weights)]
    )


# --------------------------------------------------------------------------- results


@dataclass
class MetricTests:
    """One metric's test statistics (log likelihood ratios) and harm-oriented bounds.

    Fields about the compared minutes stay None (or 0) while no minute is compared (warm-up).
    """

    canary_harm_value: float  # canary value oriented so that > limit_harm is a breach
    limit_harm: float | None
    log_lr_limit: float | None = None
    n_baseline: int = 0  # samples in the compared minutes
    n_canary: int = 0
    estimate: float | None = None  # canary - baseline, native units, stratified
    d_harm: float | None = None  # oriented so that > 0 is harmful
    ci_harm: tuple[float, float] | None = None
    log_lr_reg: float | None = None
    log_lr_prom: float | None = None
    recent_harm: float | None = None  # harmful difference over the last RECENT_MINUTES minutes
    canary_compared: float | None = None  # canary_harm_value over the compared minutes
    canary_se: float = 0.0  # standard error of canary_compared
    recent_se: float = 0.0  # standard error of recent_harm
    waiting: str = ""  # why the comparison cannot run yet (empty when it can)


def _stratified(weights: Sequence[float], values: Sequence[float]) -> float:
    return math.fsum(w * v for w, v in zip(weights, values, strict=True)) / math.fsum(weights)


# --------------------------------------------------------------------------- proportions


@dataclass(frozen=True)
class _Counts:
    """Harmful outcomes and trials of both fleets in one compared minute."""

    time: int
    hb: int
    nb: int
    hc: int
    nc: int


def _proportion_strata(m: Metric, minutes: Sequence[int]) -> list[_Counts]:
    strata = []
    arms: list[tuple[Arm | MeanMinute | None, Arm | MeanMinute | None]]
    if m.minutes is None:
        arms = [(m.baseline, m.canary)]
    else:
        arms = [(m.minutes[i].baseline, m.minutes[i].canary) for i in minutes]
    for time, (b, c) in zip(minutes, arms, strict=True):
        assert isinstance(b, Arm) and isinstance(c, Arm)
        hb = b.events if m.higher_is_worse else b.n - b.events
        hc = c.events if m.higher_is_worse else c.n - c.events
        strata.append(_Counts(time, hb, b.n, hc, c.n))
    return strata


@dataclass(frozen=True)
class _Split:
    """The event-split test's data: per minute canary outcomes x, total outcomes T, share pi.

    ``starts``: the index of the first minute of the whole test (0) and of each restart that
    has begun; each test is a suffix sum over the minutes.
    """

    xs: tuple[int, ...]
    ts: tuple[int, ...]
    shares: tuple[float, ...]
    starts: tuple[int, ...]

    def suffixes(self, values: Iterable[float]) -> list[float]:
        prefix = [0.0, *accumulate(values)]
        return [prefix[-1] - prefix[i] for i in self.starts]


def _split_log_lrs(
    split: _Split, log_ratios: Sequence[float], log_rho0: float
) -> list[tuple[float, float]]:
    """Event-split log mixture LRs at null log rate ratio ``log_rho0``, with their slopes.

    One (log L, d log L / d log_rho0) per test: the whole rollout, then each restart begun.
    Given a minute's total outcomes T, its canary outcomes are Binomial(T, q) with
    q = pi rho / (pi rho + 1 - pi) (hypergeometric for a fixed number of requests, which a
    binomial likelihood ratio dominates in convex order), so per minute and alternative r
    the factor is r^x (pi rho0 r + 1 - pi)^-T (pi rho0 + 1 - pi)^T.
    """
    log = math.log
    rho0 = math.exp(log_rho0)
    ts, shares = split.ts, split.shares
    if len(split.starts) == 1:
        return [_whole_split_log_lr(split, log_ratios, rho0)]
    v0 = [1.0 + p * (rho0 - 1.0) for p in shares]
    base = split.suffixes([t * lv for t, lv in zip(ts, map(log, v0), strict=True)])
    slope0 = split.suffixes([t * p / v for t, p, v in zip(ts, shares, v0, strict=True)])
    x_sums = split.suffixes(split.xs)
    n_tests = len(split.starts)
    logs: list[list[float]] = [[] for _ in range(n_tests)]
    slopes: list[list[float]] = [[] for _ in range(n_tests)]
    for lr, lw in zip(log_ratios, _LOG_W, strict=True):
        a = rho0 * math.exp(lr)
        v = [1.0 + p * (a - 1.0) for p in shares]
        t_log = split.suffixes([t * lv for t, lv in zip(ts, map(log, v), strict=True)])
        t_q = split.suffixes([t * p / w for t, p, w in zip(ts, shares, v, strict=True)])
        for k in range(n_tests):
            logs[k].append(lw + lr * x_sums[k] - t_log[k] + base[k])
            slopes[k].append(rho0 * slope0[k] - a * t_q[k])
    out = []
    for values, grads in zip(logs, slopes, strict=True):
        total = _lse(values)
        out.append(
            (total, sum(math.exp(x - total) * g for x, g in zip(values, grads, strict=True)))
        )
    return out


def _whole_split_log_lr(
    split: _Split, log_ratios: Sequence[float], rho0: float
) -> tuple[float, float]:
    """``_split_log_lrs`` without restarts, in plain loops (cumulative requests, early minutes)."""
    log = math.log
    base = slope0 = 0.0
    for t, p in zip(split.ts, split.shares, strict=True):
        v = 1.0 + p * (rho0 - 1.0)
        base += t * log(v)
        slope0 += t * p / v
    x_sum = sum(split.xs)
    logs, slopes = [], []
    for lr, lw in zip(log_ratios, _LOG_W, strict=True):
        a = rho0 * math.exp(lr)
        t_log = t_q = 0.0
        for t, p in zip(split.ts, split.shares, strict=True):
            v = 1.0 + p * (a - 1.0)
            t_log += t * log(v)
            t_q += t * p / v
        logs.append(lw + lr * x_sum - t_log + base)
        slopes.append(rho0 * slope0 - a * t_q)
    total = _lse(logs)
    return total, sum(math.exp(x - total) * g for x, g in zip(logs, slopes, strict=True))


def _combine_with_slope(tests: Sequence[tuple[float, float]], lay: Layout) -> tuple[float, float]:
    """``_combine`` of (log L, slope) pairs, and the slope of the combination.

    ``tests``: the whole test, then the restarts that have begun (the earliest ones).
    """
    logs = [lw + (tests[k][0] if k < len(tests) else 0.0) for k, lw in enumerate(lay.log_weights)]
    slopes = [tests[k][1] if k < len(tests) else 0.0 for k in range(len(lay.log_weights))]
    total = _lse(logs)
    return total, sum(math.exp(x - total) * g for x, g in zip(logs, slopes, strict=True))


def _decreasing_root(
    f: Callable[[float], tuple[float, float]], x: float, scale: float, tol: float, bound: float
) -> float:
    """Root of a decreasing f (value and slope) by Newton's method kept inside a bracket.

    Steps that leave the bracket, or a slope that is not negative, fall back to bisection
    (or to doubling steps while one side is still open). Returns +-bound when the root lies
    beyond it.
    """
    lo, hi = -bound, bound
    seen_lo = seen_hi = False  # a point with f > 0 (root to its right) / f <= 0 seen
    fx, slope = f(x)
    for _ in range(60):
        if fx > 0:
            lo, seen_lo = x, True
        else:
            hi, seen_hi = x, True
        new = x - fx / slope if slope < 0 else math.nan
        if not (seen_lo and seen_hi) and abs(new - x) > 2.0 * scale:
            new = math.nan  # a flat slope far from the root: step out instead
        if not lo < new < hi:
            if seen_lo and seen_hi:
                new = 0.5 * (lo + hi)
            else:  # one side still open: step out, doubling
                new = min(max(x + scale if fx > 0 else x - scale, -bound), bound)
                scale *= 2.0
        if abs(new - x) <= tol or (seen_lo and seen_hi and hi - lo <= tol):
            return new
        x = new
        fx, slope = f(x)
        if abs(x) >= bound and (fx > 0) == (x > 0):
            return x
    return x


def _null_variance(strata: Sequence[_Counts], weights: Sequence[float]) -> Callable[[float], float]:
    """Variance of the stratified difference when the canary is worse by theta0 (score test).

    Each minute's baseline rate is re-estimated under d = theta0 from both fleets' outcomes,
    shrunk by 2 pseudo-requests towards the overall rate, as in a score test: a canary that
    has seen few events does not get an understated variance. Returns V(theta0).
    """
    outcomes = sum(s.hb + s.hc for s in strata)
    requests = sum(s.nb + s.nc for s in strata)
    overall = (outcomes + 1.0) / (requests + 2.0)
    scale = math.fsum(weights) ** 2
    rows = [
        (
            0.5 / (s.nb + s.nc + 2.0),  # floor
            (s.hb + s.hc + 2.0 * overall) / (s.nb + s.nc + 2.0),  # pooled rate at theta0 = 0
            s.nc / (s.nb + s.nc + 2.0),  # its shift per unit of theta0
            w * w / s.nb,
            w * w / s.nc,
        )
        for s, w in zip(strata, weights, strict=True)
    ]

    def variance(theta0: float) -> float:
        acc = 0.0
        for floor, pooled, shift, wb, wc in rows:
            t0 = min(max(theta0, 2.0 * floor - 1.0), 1.0 - 2.0 * floor)
            pb = min(max(pooled - shift * t0, floor, floor - t0), 1.0 - floor, 1.0 - floor - t0)
            pc = pb + t0
            acc += wb * pb * (1.0 - pb) + wc * pc * (1.0 - pc)
        return acc / scale

    return variance


def _promotion_bound(
    strata: Sequence[_Counts],
    weights: Sequence[float],
    d_harm: float,
    thetas: Sequence[float],
    level: float,
    margin: float,
) -> float:
    """Upper harmful bound: the first theta0 above d where the non-inferiority test rejects.

    The null-restricted variance is not monotone in theta0 (it can fall, then rise), so
    the crossing is bracketed from the estimate upwards rather than found by iteration.
    """
    variance = _null_variance(strata, weights)

    def f(theta0: float) -> float:
        return normal_log_lr(theta0 - d_harm, variance(theta0), thetas, _LOG_W) - level

    step = math.sqrt(variance(d_harm))
    return min(_bracket(f, d_harm, f(d_harm), step, 1.0, 1e-5 * margin), 1.0)


def _proportion_limit(
    m: Metric, paired: Sequence[int], versus_baseline: bool = True
) -> tuple[float, float] | None:
    """log LR of "canary beyond the limit and worse than the baseline", and the harm limit.

    Per minute and alternative the smaller of two log likelihood ratios counts: the canary's
    rate against the limit (exact Bernoulli) and the canary against the baseline (event
    split, rate ratio = alternative / limit). In a minute where either null holds (canary
    within the limit, or no worse than the baseline) the factor has expectation <= 1, so the
    product stays a supermartingale: a shared outage cannot fire it.
    """
    if m.limit is None or not paired:
        return None
    limit = m.limit if m.higher_is_worse else 1.0 - m.limit
    odds0 = limit / (1.0 - limit)
    strata = _proportion_strata(m, paired)
    sums = [0.0] * len(_LIMIT_ODDS_RATIOS)
    for j, rho in enumerate(_LIMIT_ODDS_RATIOS):
        p = odds0 * rho / (1.0 + odds0 * rho)
        log_r = math.log(p / limit)  # also the rate ratio to a baseline within the limit
        log_q = math.log1p(-p) - math.log1p(-limit)
        acc = 0.0
        for s in strata:
            share = s.nc / (s.nc + s.nb)
            against_limit = s.hc * log_r + (s.nc - s.hc) * log_q
            against_baseline = s.hc * log_r - (s.hb + s.hc) * math.log1p(share * (p / limit - 1))
            acc += min(against_limit, against_baseline) if versus_baseline else against_limit
        sums[j] = acc
    return _lse([lw + s for lw, s in zip(_LIMIT_LOG_W, sums, strict=True)]), limit


def proportion_tests(m: Metric, lay: Layout, a_reg: float, a_prom: float) -> MetricTests:
    """Tests of a proportion: rollback level a_reg, promote a_prom."""
    b, c = m.baseline, m.canary
    assert b is not None and c is not None

    def harm(arm: Arm) -> float:
        return arm.value if m.higher_is_worse else 1.0 - arm.value

    limit = _proportion_limit(m, lay.paired)
    result = MetricTests(
        canary_harm_value=harm(c),
        limit_harm=limit[1] if limit else None,
        log_lr_limit=limit[0] if limit else None,
    )
    strata = _proportion_strata(m, lay.tested)
    if not strata:
        return result
    nb, nc = sum(s.nb for s in strata), sum(s.nc for s in strata)
    hb = sum(s.hb for s in strata)
    result.n_baseline, result.n_canary = nb, nc
    rate = sum(s.hc for s in strata) / nc
    result.canary_compared = rate
    result.canary_se = math.sqrt(max(rate * (1.0 - rate), 1.0 / nc) / nc)
    weights = [s.nb * s.nc / (s.nb + s.nc) for s in strata]
    d_harm = _stratified(weights, [s.hc / s.nc - s.hb / s.nb for s in strata])
    result.d_harm = d_harm
    result.estimate = d_harm if m.higher_is_worse else -d_harm
    big = DESIGN_EFFECT * m.margin

    # Rollback: exact event-split test on the outcome that is rarer in the baseline (rare
    # counts are where a normal approximation is anti-conservative; conditioning on each
    # minute's total removes that minute's rate, shared shocks and trends included). The
    # choice depends on the baseline only, so more harmful canary data can only raise it.
    if 2 * hb <= nb:
        up = True
        rows = [(s.hc, s.hb + s.hc, s.nc / (s.nb + s.nc)) for s in strata]
        base = (hb + 1.0) / (nb + 2.0)  # smoothed: no division by a zero baseline rate
        eta = math.log1p(big / base)  # log rate ratio at d = DESIGN_EFFECT * margin
    else:
        up = False  # "good" outcomes; a regression makes the canary share drop
        rows = [(s.nc - s.hc, s.nb - s.hb + s.nc - s.hc, s.nc / (s.nb + s.nc)) for s in strata]
        base = (nb - hb + 1.0) / (nb + 2.0)
        eta = -math.log(max(1.0 - big / base, 0.05))
    kept = [(s.time, r) for s, r in zip(strata, rows, strict=True) if r[1] > 0]
    rows = [r for _, r in kept]  # minutes without the outcome carry no evidence
    log_r = tuple((eta if up else -eta) * z for z in _NODES)
    times = [time for time, _ in kept]
    blocks = _blocks(times, lay.starts)
    split = _Split(
        xs=tuple(r[0] for r in rows),
        ts=tuple(r[1] for r in rows),
        shares=tuple(r[2] for r in rows),
        starts=(0, *(i for i in blocks if i < len(rows))),
    )
    sign = 1.0 if up else -1.0

    def log_e(eta0: float) -> tuple[float, float]:
        # eta0: the null's log rate ratio in the harmful direction; slope in eta0.
        value, slope = _combine_with_slope(_split_log_lrs(split, log_r, sign * eta0), lay)
        return value - level_reg, sign * slope

    level_reg = math.log(1.0 / a_reg)
    result.log_lr_reg = log_e(0.0)[0] + level_reg

    # Lower harmful bound: invert the combined test over the null rate ratio exp(eta0),
    # starting from the Mantel-Haenszel rate ratio.
    x_total = sum(r[0] for r in rows)
    t_total = sum(r[1] for r in rows)
    num = sum(x * (1.0 - p) for x, _, p in rows) + 0.5
    den = sum((t - x) * p for x, t, p in rows) + 0.5
    est = sign * math.log(num / den)
    spread = 2.0 * math.sqrt(1.0 / (x_total + 0.5) + 1.0 / (t_total - x_total + 0.5))
    # The bound lies about sqrt(2 level) standard errors (spread / 2) below the estimate.
    start = est - 0.5 * spread * math.sqrt(2.0 * level_reg)
    # Without any outcome there is no evidence either way: the bound is the floor.
    eta_lo = _decreasing_root(log_e, start, spread, 1e-4, 60.0) if rows else -50.0
    # Rate ratio -> absolute difference with the (smoothed) baseline rate of that outcome.
    eta_lo = max(min(eta_lo, 50.0), -50.0)
    lo_harm = base * math.expm1(eta_lo) if up else -base * math.expm1(-eta_lo)
    lo_harm = min(max(lo_harm, -1.0), 1.0)

    # Promote: normal mixture on the stratified difference, variance restricted to the null.
    thetas_p = tuple(m.margin * z for z in _NODES)
    level_prom = math.log(1.0 / a_prom)

    result.log_lr_prom = normal_log_lr(
        m.margin - d_harm, _null_variance(strata, weights)(m.margin), thetas_p, _LOG_W
    )
    hi_harm = _promotion_bound(strata, weights, d_harm, thetas_p, level_prom, m.margin)
    result.ci_harm = (lo_harm, hi_harm)
    if lay.per_minute:
        recent = [s for s in strata if s.time > strata[-1].time - RECENT_MINUTES]
        recent_w = [s.nb * s.nc / (s.nb + s.nc) for s in recent]
        result.recent_harm = _stratified(recent_w, [s.hc / s.nc - s.hb / s.nb for s in recent])
        result.recent_se = math.sqrt(_null_variance(recent, recent_w)(0.0))
    return result


# --------------------------------------------------------------------------- means


@dataclass(frozen=True)
class _Shape:
    """What is known of each fleet's per-request spread.

    ``cv2_*``: squared coefficient of variation of a log-normal fitted to the fleet's
    percentiles and mean; ``var_*``: a variance from the per-minute ranges (Popoviciu).
    """

    cv2_baseline: float | None
    cv2_canary: float | None
    var_baseline: float | None
    var_canary: float | None

    @property
    def known(self) -> bool:
        return any(
            v is not None
            for v in (self.cv2_baseline, self.cv2_canary, self.var_baseline, self.var_canary)
        )


def _log_spread(arms: Sequence[MeanMinute]) -> float | None:
    """Log-scale variance s^2 of a log-normal fitted to percentiles; None without any.

    Three estimates, each pooled over minutes (request-weighted): from p90/p50, p99/p50, and
    mean/median (a log-normal's mean is median x exp(s^2/2)). The largest is taken: each is
    unbiased for log-normal data, and a tail heavier than log-normal raises the mean- and
    p99-based ones.
    """
    sums = [0.0, 0.0, 0.0]
    weights = [0.0, 0.0, 0.0]
    for a in arms:
        if a.n < FIT_MIN_COUNT or a.p50 is None or a.p50 <= 0:
            continue
        mean = a.mean
        if mean > 0:
            s2 = 2.0 * math.log(mean / a.p50) if mean > a.p50 else 0.0
            sums[0] += a.n * s2
            weights[0] += a.n
        if a.p90 is not None and a.p90 > 0:
            sums[1] += a.n * (math.log(a.p90 / a.p50) / _Z90) ** 2
            weights[1] += a.n
        if a.p99 is not None and a.p99 > 0 and a.n >= P99_MIN_COUNT:
            sums[2] += a.n * (math.log(a.p99 / a.p50) / _Z99) ** 2
            weights[2] += a.n
    fits = [s / w for s, w in zip(sums, weights, strict=True) if w > 0]
    return min(max(fits), _MAX_LOG_VARIANCE) if fits else None


def _skewed_mean_requests(shape: _Shape | None) -> float:
    """Canary requests before a mean's regression test counts (0 without a fitted shape).

    A log-normal with CV^2 = c has skewness (c + 3) sqrt(c); a mean of n requests has that
    over sqrt(n).
    """
    if shape is None:
        return 0.0
    fits = [c for c in (shape.cv2_baseline, shape.cv2_canary) if c is not None]
    if not fits:
        return 0.0
    cv2 = max(fits)
    return ((cv2 + 3.0) * math.sqrt(cv2) / MAX_MEAN_SKEW) ** 2


def _range_variance(arms: Sequence[MeanMinute]) -> float | None:
    """Request-weighted per-minute variance bound ((max - min) / 2)^2 n / (n - 1)."""
    total = weight = 0.0
    for a in arms:
        if a.n < 2 or a.low is None or a.high is None:
            continue
        total += a.n * ((a.high - a.low) / 2.0) ** 2 * a.n / (a.n - 1)
        weight += a.n
    return total / weight if weight else None


def _shape(m: Metric, minutes: Sequence[int]) -> _Shape:
    assert m.minutes is not None
    rows = [m.minutes[i] for i in minutes]
    baseline = [r.baseline for r in rows if isinstance(r.baseline, MeanMinute)]
    canary = [r.canary for r in rows if isinstance(r.canary, MeanMinute)]
    s2_b, s2_c = _log_spread(baseline), _log_spread(canary)
    return _Shape(
        cv2_baseline=None if s2_b is None else math.expm1(s2_b),
        cv2_canary=None if s2_c is None else math.expm1(s2_c),
        var_baseline=_range_variance(baseline),
        var_canary=_range_variance(canary),
    )


@dataclass(frozen=True)
class _MeanStratum:
    """One compared minute of a mean metric: sizes, means and per-request variances."""

    time: int
    nb: int
    nc: int
    mb: float
    mc: float
    var_b: float
    var_c: float  # canary, when no worse than the baseline (regression test)
    var_c_prom: float  # canary, when worse by the margin (non-inferiority test)
    weight: float  # n_b n_c / (n_b + n_c): 1 / Var(d) per unit per-request variance


def _mean_strata(m: Metric, minutes: Sequence[int], shape: _Shape | None) -> list[_MeanStratum]:
    """Per-minute strata; a cumulative request is one stratum with its given stds.

    The canary's per-request variance is scaled from the *baseline's* mean of the minute
    (CV^2 x mean^2): under "no worse" that is an upper bound for the same shape, and it does
    not shrink when the canary's own mean happens to be low (right-skewed latency). Under
    "worse by the margin" the canary's mean is the baseline's plus the margin. The canary's
    shape is the wider of its own and the baseline's fit.
    """
    floor = (m.margin * STD_FLOOR) ** 2
    sign = 1.0 if m.higher_is_worse else -1.0
    if m.minutes is None:
        cb, cc = m.baseline, m.canary
        assert cb is not None and cc is not None
        var_b, var_c = max(cb.std**2, floor), max(cc.std**2, floor)
        weight = cb.n * cc.n / (cb.n + cc.n)
        return [
            _MeanStratum(0, cb.n, cc.n, cb.value, cc.value, var_b, var_c, max(var_c, var_b), weight)
        ]
    assert shape is not None
    cv2_b = shape.cv2_baseline if shape.cv2_baseline is not None else shape.cv2_canary
    cv2_c = max((v for v in (shape.cv2_baseline, shape.cv2_canary) if v is not None), default=None)
    strata: list[_MeanStratum] = []
    for i in minutes:
        b, c = m.minutes[i].baseline, m.minutes[i].canary
        assert isinstance(b, MeanMinute) and isinstance(c, MeanMinute)
        mb, mc = b.mean, c.mean
        worse = max(abs(mb), abs(mb + sign * m.margin))
        if cv2_b is not None and cv2_c is not None:
            var_b = cv2_b * mb * mb
            var_c = cv2_c * mb * mb
            var_c_prom = cv2_c * worse * worse
        else:
            var_b = shape.var_baseline or shape.var_canary or 0.0
            var_c = shape.var_canary or shape.var_baseline or 0.0
            var_c_prom = var_c
        var_b, var_c = max(var_b, floor), max(var_c, floor)
        weight = b.n * c.n / (b.n + c.n)
        strata.append(
            _MeanStratum(i, b.n, c.n, mb, mc, var_b, var_c, max(var_c_prom, var_b), weight)
        )
    return strata


def _differences_variance(strata: Sequence[_MeanStratum], sign: float) -> float | None:
    """Per-unit-weight variance of the per-minute differences, from successive differences.

    Var(d_i) = sigma^2 / w_i, so each (d_{i+1} - d_i)^2 / (1/w_i + 1/w_{i+1}) is sigma^2 x a
    chi-square with one degree of freedom; their median over the chi-square's median
    (0.4549) estimates sigma^2 without any model of the latency distribution. Successive
    differences cancel trends, differences between fleets cancel shocks they share, and the
    median ignores the few jumps a step (a cold start, a late regression) makes.
    """
    if len(strata) < DIFF_MINUTES:
        return None
    d = [sign * (s.mc - s.mb) for s in strata]
    w = [s.weight for s in strata]
    terms = sorted(
        (d[i + 1] - d[i]) ** 2 / (1.0 / w[i] + 1.0 / w[i + 1]) for i in range(len(d) - 1)
    )
    half = len(terms) // 2
    median = terms[half] if len(terms) % 2 else 0.5 * (terms[half - 1] + terms[half])
    return median / _CHI2_1_MEDIAN


def _segments(
    strata: Sequence[_MeanStratum],
    sign: float,
    diff_var: float | None,
    starts: Sequence[int] = (0,),
    prom: bool = False,
) -> list[tuple[float, float]]:
    """(stratified harmful difference, its variance) over the minutes from each start on.

    The variance is the larger of the one the per-request spreads give and the one the
    per-minute differences give: both are estimates, and the larger never makes evidence
    look stronger than it is, whichever way the test points.
    """

    def suffixes(values: Iterable[float]) -> list[float]:
        prefix = [0.0, *accumulate(values)]
        return [prefix[-1] - prefix[i] for i in starts]

    w = suffixes(s.weight for s in strata)
    wd = suffixes(s.weight * sign * (s.mc - s.mb) for s in strata)
    fitted = suffixes(
        s.weight**2 * ((s.var_c_prom if prom else s.var_c) / s.nc + s.var_b / s.nb) for s in strata
    )
    out = []
    for total_w, total_wd, total_v in zip(w, wd, fitted, strict=True):
        v = total_v / (total_w * total_w)
        out.append((total_wd / total_w, v if diff_var is None else max(v, diff_var / total_w)))
    return out


def _mean_limit(
    m: Metric,
    strata: Sequence[_MeanStratum],
    diff_var: float | None,
    versus_baseline: bool = True,
) -> tuple[float, float] | None:
    """log LR of "canary mean beyond the limit and worse than the baseline", per minute.

    As for proportions, each minute contributes the smaller of the two log likelihood
    ratios (normal mixtures over 0.5 ... 64 margins beyond the limit / the baseline).
    """
    if m.limit is None or not strata:
        return None
    sign = 1.0 if m.higher_is_worse else -1.0
    limit = sign * m.limit
    sums = [0.0] * len(_LIMIT_MARGINS)
    for s in strata:
        v_limit = s.var_c / s.nc
        v_diff = v_limit + s.var_b / s.nb
        if diff_var is not None:
            v_diff = max(v_diff, diff_var / s.weight)
        beyond, worse = sign * s.mc - limit, sign * (s.mc - s.mb)
        for j, k in enumerate(_LIMIT_MARGINS):
            theta = m.margin * k
            against_limit = (theta * beyond - 0.5 * theta * theta) / v_limit
            sums[j] += (
                min(against_limit, (theta * worse - 0.5 * theta * theta) / v_diff)
                if versus_baseline
                else against_limit
            )
    return _lse([lw + s for lw, s in zip(_LIMIT_LOG_W, sums, strict=True)]), limit


def mean_tests(m: Metric, lay: Layout, a_reg: float, a_prom: float) -> MetricTests:
    """Tests of a mean: rollback level a_reg, promote a_prom."""
    b, c = m.baseline, m.canary
    assert b is not None and c is not None
    sign = 1.0 if m.higher_is_worse else -1.0
    result = MetricTests(
        canary_harm_value=sign * c.value,
        limit_harm=None if m.limit is None else sign * m.limit,
    )
    shape = None if m.minutes is None else _shape(m, lay.tested or lay.paired)
    paired = _mean_strata(m, lay.paired, shape)
    tested = set(lay.tested)
    strata = [s for s in paired if s.time in tested]
    diff_var = _differences_variance(strata, sign) if lay.per_minute else None
    spread_known = shape is None or shape.known or len(strata) >= MIN_DIFF_MINUTES
    if spread_known:
        limit = _mean_limit(m, paired, diff_var)
        result.log_lr_limit = None if limit is None else limit[0]
    if not strata:
        return result
    if not spread_known:
        result.waiting = (
            "no spread yet: no percentiles or min/max, and fewer than "
            f"{MIN_DIFF_MINUTES} compared minutes ({len(strata)})"
        )
        return result
    result.n_baseline = sum(s.nb for s in strata)
    result.n_canary = sum(s.nc for s in strata)
    result.canary_compared = sign * sum(s.nc * s.mc for s in strata) / result.n_canary
    result.canary_se = math.sqrt(sum(s.nc * s.var_c for s in strata)) / result.n_canary
    times = [s.time for s in strata]
    starts = (0, *(i for i in _blocks(times, lay.starts) if i < len(strata)))
    segments = _segments(strata, sign, diff_var, starts)
    d_harm, v = segments[0]
    result.d_harm, result.estimate = d_harm, sign * d_harm
    thetas_r = tuple(DESIGN_EFFECT * m.margin * z for z in _NODES)
    thetas_p = tuple(m.margin * z for z in _NODES)
    level_reg, level_prom = math.log(1.0 / a_reg), math.log(1.0 / a_prom)
    # Tests whose canary mean is still too skewed count as 1 (not begun).
    needed = _skewed_mean_requests(shape)
    prefix = [0, *accumulate(s.nc for s in strata)]
    counted = [prefix[-1] - prefix[i] >= needed for i in starts]
    if not counted[0]:
        result.waiting = (
            f"skewed values: the mean is judged from {math.ceil(needed)} canary requests "
            f"after warm-up ({prefix[-1]} so far)"
        )

    def log_e(theta0: float) -> float:
        return _combine(
            [
                normal_log_lr(d - theta0, var, thetas_r, _LOG_W) if ok else 0.0
                for (d, var), ok in zip(segments, counted, strict=True)
            ],
            lay,
        )

    result.log_lr_reg = log_e(0.0)
    if not counted[0]:
        lo = -math.inf  # no test counts yet (restarts have fewer requests): no bound either
    elif len(segments) > 1:
        # A restarted test may put the bound above the whole-rollout estimate (late change).
        f0 = log_e(d_harm) - level_reg
        step = math.sqrt(v) if f0 > 0 else -math.sqrt(v)
        lo = _bracket(
            lambda t: log_e(t) - level_reg,
            d_harm,
            f0,
            step,
            math.copysign(math.inf, step),
            1e-6 * m.margin,
        )
    else:
        lo = d_harm - _gauss_radius(v, thetas_r, _LOG_W, level_reg)
    d_prom, v_prom = _segments(strata, sign, diff_var, prom=True)[0]
    result.log_lr_prom = normal_log_lr(m.margin - d_prom, v_prom, thetas_p, _LOG_W)
    hi = d_prom + _gauss_radius(v_prom, thetas_p, _LOG_W, level_prom)
    result.ci_harm = (lo, hi)
    if lay.per_minute:
        recent = [s for s in strata if s.time > strata[-1].time - RECENT_MINUTES]
        result.recent_harm, recent_v = _segments(recent, sign, diff_var)[0]
        result.recent_se = math.sqrt(recent_v)
    return result


def canary_limit_log_lr(m: Metric) -> float | None:
    """log LR of "the canary is beyond the limit", from the canary's data alone.

    For a first deploy, where there is no baseline to compare with: the limit tests above
    without their "worse than the baseline" half (the canary stands in for the baseline's
    minutes only to reuse their strata). None without a limit, data, or a known spread.
    """
    if m.limit is None or m.canary is None:
        return None
    minutes = None if m.minutes is None else tuple(Minute(x.canary, x.canary) for x in m.minutes)
    alone = replace(m, baseline=m.canary, minutes=minutes)
    paired = layout(alone, 0).paired
    if m.kind == "proportion":
        limit = _proportion_limit(alone, paired, versus_baseline=False)
    else:
        shape = None if minutes is None else _shape(alone, paired)
        if shape is not None and not shape.known:
            return None
        strata = _mean_strata(alone, paired, shape)
        limit = _mean_limit(alone, strata, None, versus_baseline=False)
    return None if limit is None else limit[0]
