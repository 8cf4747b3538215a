"""The judge's always-valid per-metric tests and the confidence bounds that invert them.

Each test is a nonnegative supermartingale under its null, so rejecting when its log
likelihood ratio reaches log(1/level) is valid however often it is looked at (Ville):

* regression (rollback): exact event-split mixture for proportions, normal mixture for means,
  tuned for a regression of DESIGN_EFFECT x margin;
* non-inferiority (promote): normal mixture at d = margin;
* limit (rollback): the canary against its absolute ``limit``, broad alternatives.

Bounds come from inverting the tests by root finding. Standard library only.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from guardrails.judge.request import Metric
from guardrails.stats import normal_log_lr, normal_log_lr_grad, split_log_lr

__all__ = ["DESIGN_EFFECT", "STD_FLOOR", "MetricTests", "mean_tests", "proportion_tests"]

# The rollback test is tuned to detect a regression of DESIGN_EFFECT x margin fastest.
DESIGN_EFFECT = 2.0
# Mean metrics: per-arm std is floored at margin * STD_FLOOR so zero variance cannot divide
# by zero or make a handful of identical values look infinitely precise.
STD_FLOOR = 0.25

# Mixing distribution of the regression and non-inferiority tests, in units of the effect
# each test is tuned for. 97% of the weight sits on five points 0.75 ... 1.25 (Gaussian
# weights, sd 0.25): close to a point alternative, which is what brings detection near
# Wald's SPRT. 3% sits on 1/16, 1/4, 4 and 16 so that much smaller and much larger effects
# are still detected and the confidence sequence keeps shrinking (its width is floored at
# 1/32 of the tuned effect). Any fixed positive weights give a valid test; these were tuned
# with bench/judge_oc.py (9 points keep one evaluate() well under 1 ms).
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


# --------------------------------------------------------------------------- root finding


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


# --------------------------------------------------------------------------- metric tests


@dataclass
class MetricTests:
    """One metric's test statistics (log likelihood ratios) and harm-oriented bounds."""

    estimate: float  # canary - baseline, native units
    d_harm: float  # oriented so that > 0 is harmful
    ci_harm: tuple[float, float]
    log_lr_reg: float
    log_lr_prom: float
    log_lr_limit: float | None
    canary_harm_value: float  # canary value oriented so that > limit_harm is a breach
    limit_harm: float | None


def proportion_tests(m: Metric, a_reg: float, a_prom: float) -> MetricTests:
    """Tests of a proportion with data in both arms: rollback level a_reg, promote a_prom."""
    b, c = m.baseline, m.canary
    assert b is not None and c is not None
    nb, nc = b.n, c.n
    # Harmful outcomes: events when higher is worse, non-events otherwise.
    hb = b.events if m.higher_is_worse else nb - b.events
    hc = c.events if m.higher_is_worse else nc - c.events
    d_harm = hc / nc - hb / nb
    logit_share = math.log(nc) - math.log(nb)
    big = DESIGN_EFFECT * m.margin

    # Rollback: exact event-split test on the outcome that is rarer in the baseline (rare
    # counts are where a normal approximation is anti-conservative; conditioning on the total
    # removes the nuisance rate). The choice depends on the baseline only, so more harmful
    # canary data can only raise the statistic.
    if 2 * hb <= nb:
        up = True
        e_b, e_c = hb, hc
        base = (hb + 1.0) / (nb + 2.0)  # smoothed: no division by a zero baseline rate
        eta = math.log1p(big / base)  # log rate ratio at d = DESIGN_EFFECT * margin
    else:
        up = False
        e_b, e_c = nb - hb, nc - hc  # "good" outcomes; a regression makes the canary share drop
        base = (e_b + 1.0) / (nb + 2.0)
        eta = -math.log(max(1.0 - big / base, 0.05))
    log_r = tuple((eta if up else -eta) * z for z in _NODES)
    total = e_b + e_c
    log_lr_reg = split_log_lr(e_c, total, logit_share, log_r, _LOG_W)

    # Lower harmful bound: invert the split test over the null rate ratio exp(eta0).
    level_reg = math.log(1.0 / a_reg)

    def f_split(eta0: float) -> float:
        # Signed so that f > 0 means "H0 at eta0 rejected", decreasing in the harmful direction.
        lam = logit_share + (eta0 if up else -eta0)
        return split_log_lr(e_c, total, lam, log_r, _LOG_W) - level_reg

    # eta0 is the log rate ratio in the harmful direction; the estimate is the start point.
    est = math.log((e_c + 0.5) / (total - e_c + 0.5)) - logit_share
    est = est if up else -est
    f0 = f_split(est)
    spread = 2.0 * math.sqrt(1.0 / (e_c + 0.5) + 1.0 / (total - e_c + 0.5))
    eta_lo = _bracket(
        f_split, est, f0, spread if f0 > 0 else -spread, 60.0 if f0 > 0 else -60.0, 1e-5
    )
    # Rate ratio -> absolute difference with the (smoothed) baseline rate of that outcome.
    eta_lo = max(min(eta_lo, 50.0), -50.0)
    lo_harm = base * math.expm1(eta_lo) if up else -base * math.expm1(-eta_lo)
    lo_harm = min(max(lo_harm, -1.0), 1.0)

    # Promote: normal mixture with the variance restricted to the null d = theta0 (score-test
    # style). At theta0 = margin this is the non-inferiority test.
    total_n = nb + nc + 2.0
    floor = 0.5 / total_n

    def var_at(theta0: float) -> float:
        theta0 = min(max(theta0, 2.0 * floor - 1.0), 1.0 - 2.0 * floor)
        pb = (hb + hc + 1.0 - nc * theta0) / total_n
        pb = min(max(pb, floor, floor - theta0), 1.0 - floor, 1.0 - floor - theta0)
        pc = pb + theta0
        return pb * (1.0 - pb) / nb + pc * (1.0 - pc) / nc

    thetas_p = tuple(m.margin * z for z in _NODES)
    level_prom = math.log(1.0 / a_prom)

    def f_prom(theta0: float) -> float:
        return normal_log_lr(theta0 - d_harm, var_at(theta0), thetas_p, _LOG_W) - level_prom

    log_lr_prom = f_prom(m.margin) + level_prom
    f_d = f_prom(d_harm)  # x = 0: never rejected
    hi_harm = min(
        _bracket(f_prom, d_harm, f_d, math.sqrt(var_at(d_harm)), 1.0, 1e-5 * m.margin), 1.0
    )

    limit_harm = None
    log_lr_limit = None
    canary_harm_value = hc / nc
    if m.limit is not None:
        limit_harm = m.limit if m.higher_is_worse else 1.0 - m.limit
        odds0 = limit_harm / (1.0 - limit_harm)
        terms = []
        for rho, lw in zip(_LIMIT_ODDS_RATIOS, _LIMIT_LOG_W, strict=True):
            pj = odds0 * rho / (1.0 + odds0 * rho)
            terms.append(
                lw
                + hc * (math.log(pj) - math.log(limit_harm))
                + (nc - hc) * (math.log1p(-pj) - math.log1p(-limit_harm))
            )
        mx = max(terms)
        log_lr_limit = mx + math.log(sum(math.exp(t - mx) for t in terms))
    return MetricTests(
        estimate=c.value - b.value,
        d_harm=d_harm,
        ci_harm=(lo_harm, hi_harm),
        log_lr_reg=log_lr_reg,
        log_lr_prom=log_lr_prom,
        log_lr_limit=log_lr_limit,
        canary_harm_value=canary_harm_value,
        limit_harm=limit_harm,
    )


def mean_tests(m: Metric, a_reg: float, a_prom: float) -> MetricTests:
    """Tests of a mean with data in both arms: rollback level a_reg, promote a_prom."""
    b, c = m.baseline, m.canary
    assert b is not None and c is not None
    sign = 1.0 if m.higher_is_worse else -1.0
    d_harm = sign * (c.value - b.value)
    floor = (m.margin * STD_FLOOR) ** 2
    s2_b = max(b.std * b.std, floor)
    s2_c = max(c.std * c.std, floor)
    v = s2_b / b.n + s2_c / c.n  # Welch: unequal variances allowed under "no difference"
    # For promotion the canary's variance is not taken below the baseline's: with right-skewed
    # data (latency) a low canary mean comes with a low canary std, which would otherwise make
    # a canary that is exactly `margin` worse look precisely non-inferior too often.
    v_prom = s2_b / b.n + max(s2_c, s2_b) / c.n
    thetas_r = tuple(DESIGN_EFFECT * m.margin * z for z in _NODES)
    thetas_p = tuple(m.margin * z for z in _NODES)
    log_lr_reg = normal_log_lr(d_harm, v, thetas_r, _LOG_W)
    log_lr_prom = normal_log_lr(m.margin - d_harm, v_prom, thetas_p, _LOG_W)
    lo = d_harm - _gauss_radius(v, thetas_r, _LOG_W, math.log(1.0 / a_reg))
    hi = d_harm + _gauss_radius(v_prom, thetas_p, _LOG_W, math.log(1.0 / a_prom))
    limit_harm = None
    log_lr_limit = None
    if m.limit is not None:
        limit_harm = sign * m.limit
        thetas_l = tuple(m.margin * k for k in _LIMIT_MARGINS)
        log_lr_limit = normal_log_lr(
            sign * c.value - limit_harm, s2_c / c.n, thetas_l, _LIMIT_LOG_W
        )
    return MetricTests(
        estimate=c.value - b.value,
        d_harm=d_harm,
        ci_harm=(lo, hi),
        log_lr_reg=log_lr_reg,
        log_lr_prom=log_lr_prom,
        log_lr_limit=log_lr_limit,
        canary_harm_value=sign * c.value,
        limit_harm=limit_harm,
    )
