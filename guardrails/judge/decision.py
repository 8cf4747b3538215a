"""Per-metric decisions and ``evaluate(request) -> response``, the judge's entry point.

Every call receives all the data so far, per minute or cumulative, and answers "rollback",
"continue" or "promote". Guarantees (see docs/judge.md) hold however often and irregularly it
is called, because each decision is a test against a nonnegative supermartingale (Ville):

* rollback  - per metric, an always-valid one-sided test of H0 "canary no worse than
  baseline" (stratified by minute: exact event-split mixture for proportions, normal mixture
  for means) at level alpha / n_metrics, or an always-valid test that the canary breaches
  its absolute ``limit`` in minutes where the baseline does not.
* promote   - every metric shows, with an always-valid test at level alpha, that the
  degradation is below its ``margin``, and min_samples is reached in both arms.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from guardrails.judge.request import JudgeRequest, Metric, parse_request
from guardrails.judge.sequential import (
    RECENT_MINUTES,
    MetricTests,
    before_after,
    layout,
    mean_tests,
    proportion_tests,
)

__all__ = ["LIMIT_ALPHA_SHARE", "evaluate"]

# Share of a metric's rollback alpha given to its limit test when a limit is set.
LIMIT_ALPHA_SHARE = 0.1


def _fmt(x: float) -> str:
    return f"{x:.4g}"


def _p(log_lr: float) -> float:
    # Always-valid p-value min(1, 1/L).
    return 1.0 if log_lr <= 0 else math.exp(-log_lr)


def _finite_or_none(x: float) -> float | None:
    return x if math.isfinite(x) else None


def _reached(log_lr: float | None, level: float) -> bool:
    return log_lr is not None and log_lr >= math.log(1.0 / level)


def _judge_metric(m: Metric, req: JudgeRequest, n_metrics: int) -> dict[str, Any]:
    a_metric = req.alpha / n_metrics  # Bonferroni over metrics for rollback
    a_reg = a_metric * (1.0 - LIMIT_ALPHA_SHARE) if m.limit is not None else a_metric
    a_lim = a_metric * LIMIT_ALPHA_SHARE
    a_prom = req.alpha  # intersection-union: every metric must pass, no split needed
    out: dict[str, Any] = {
        "name": m.name,
        "decision": "continue",
        "estimate": None,
        "ci": None,
        "p_value": None,
        "limit_p_value": None,
        "alpha": a_reg,
        "n_baseline": m.baseline.n if m.baseline else 0,
        "n_canary": m.canary.n if m.canary else 0,
        "baseline_value": m.baseline.value if m.baseline and m.baseline.n else None,
        "canary_value": m.canary.value if m.canary and m.canary.n else None,
        "reason": "",
    }
    missing = [arm for arm, d in (("baseline", m.baseline), ("canary", m.canary)) if d is None]
    if missing:
        out["reason"] = f"no data: {' and '.join(missing)} missing"
        return out
    assert m.baseline is not None and m.canary is not None
    empty = [arm for arm, d in (("baseline", m.baseline), ("canary", m.canary)) if d.n == 0]
    if empty:
        unit = "trials" if m.kind == "proportion" else "samples"
        out["reason"] = f"no data: {' and '.join(empty)} has 0 {unit}"
        return out

    lay = layout(m, req.warmup_minutes)
    pooled = before_after(m, req.warmup_minutes) if not lay.tested else None
    if pooled is not None:
        m, lay = pooled, layout(pooled, 0)
    assert m.baseline is not None and m.canary is not None  # pooling keeps the totals
    t = (proportion_tests if m.kind == "proportion" else mean_tests)(m, lay, a_reg, a_prom)
    if t.ci_harm is not None:
        sign = 1.0 if m.higher_is_worse else -1.0
        lo_h, hi_h = t.ci_harm
        # After a change during the rollout a restarted test can put the harmful-side bound
        # above the whole rollout's other bound: no constant difference fits. Report the
        # interval as that bound alone (rollback <=> lower > 0 and promote <=> upper < margin
        # both still hold).
        hi_h = max(hi_h, lo_h)
        ci = (lo_h, hi_h) if sign > 0 else (-hi_h, -lo_h)  # back to canary - baseline
        out["estimate"] = t.estimate
        out["ci"] = [_finite_or_none(ci[0]), _finite_or_none(ci[1])]
    if t.log_lr_reg is not None:
        out["p_value"] = _p(t.log_lr_reg)
    if t.log_lr_limit is not None:
        out["limit_p_value"] = _p(t.log_lr_limit)

    word = "above" if m.higher_is_worse else "below"
    limit_txt = ""
    # Limits look at every minute, warm-up included: a gross failure is never waited out.
    if min(m.baseline.n, m.canary.n) >= req.min_samples and _reached(t.log_lr_limit, a_lim):
        assert t.log_lr_limit is not None
        limit_txt = (
            f"canary {_fmt(m.canary.value)} significantly {word} limit {_fmt(m.limit or 0.0)} "
            f"where the baseline is not (always-valid p={_fmt(_p(t.log_lr_limit))} <= "
            f"{_fmt(a_lim)})"
        )
    enough = min(t.n_baseline, t.n_canary) >= req.min_samples
    if enough and _reached(t.log_lr_reg, a_reg):
        out["decision"] = "rollback"
        reg_txt = (
            f"regression: canary - baseline = {_fmt(t.estimate or 0.0)} "
            f"(always-valid p={_fmt(out['p_value'])} <= {_fmt(a_reg)})"
        )
        out["reason"] = reg_txt + (f"; {limit_txt}" if limit_txt else "")
        return out
    if limit_txt:
        out["decision"] = "rollback"
        out["reason"] = limit_txt
        return out
    if lay.warmup_left or not lay.tested:
        out["reason"] = (
            f"warming up: the canary's first {req.warmup_minutes} minutes with traffic are "
            f"not compared ({lay.warmup_left} to go)"
            if lay.warmup_left
            else "no minute with data in both fleets after warm-up yet"
        )
        return out
    if t.waiting:
        out["reason"] = t.waiting
        return out
    if not enough:
        out["reason"] = (
            f"waiting for min_samples {req.min_samples}: baseline {t.n_baseline}, "
            f"canary {t.n_canary}"
            + (" after warm-up" if req.warmup_minutes and lay.per_minute else "")
        )
        return out
    assert t.ci_harm is not None and t.estimate is not None
    if _reached(t.log_lr_prom, a_prom):
        out["reason"] = _promotion_brake(m, t)
        if not out["reason"]:
            out["decision"] = "promote"
            out["reason"] = (
                f"non-inferior: worst plausible degradation {_fmt(t.ci_harm[1])} < margin "
                f"{_fmt(m.margin)} (always-valid, level {_fmt(a_prom)})"
            )
        return out
    ci = out["ci"]
    out["reason"] = (
        f"inconclusive: canary - baseline = {_fmt(t.estimate)}, always-valid ci "
        f"[{_fmt(ci[0]) if ci[0] is not None else '-inf'}, "
        f"{_fmt(ci[1]) if ci[1] is not None else 'inf'}]; neither a regression nor a "
        f"degradation below margin {_fmt(m.margin)} is shown yet"
    )
    return out


def _promotion_brake(m: Metric, t: MetricTests) -> str:
    """Why a metric shown non-inferior still may not promote ("" when nothing holds it)."""
    word = "above" if m.higher_is_worse else "below"
    # Over the compared minutes: the canary more than a standard error beyond the limit, and
    # the baseline, standardised to the same minutes (canary minus the stratified difference),
    # within it. A breach both fleets share, or a canary on a limit its baseline sits on,
    # does not hold the promotion.
    if (
        t.limit_harm is not None
        and t.canary_compared is not None
        and t.d_harm is not None
        and t.canary_compared > t.limit_harm + t.canary_se
        and t.canary_compared - t.d_harm <= t.limit_harm
    ):
        sign = 1.0 if m.higher_is_worse else -1.0
        return (
            f"non-inferior, but canary {_fmt(sign * t.canary_compared)} is {word} limit "
            f"{_fmt(m.limit or 0.0)} by more than its standard error where the baseline is "
            "not (not significant yet)"
        )
    if t.recent_harm is not None and t.recent_harm > m.margin + t.recent_se:
        return (
            f"non-inferior overall, but the last {RECENT_MINUTES} minutes put the canary "
            f"{_fmt(t.recent_harm)} worse, beyond margin {_fmt(m.margin)} by more than their "
            f"standard error {_fmt(t.recent_se)}: waiting"
        )
    return ""


def evaluate(request: Mapping[str, Any]) -> dict[str, Any]:
    """Judge a canary from per-minute or cumulative data: rollback, continue or promote.

    Per metric with harm-oriented difference d (canary - baseline, sign-flipped when lower is
    worse): rollback if an always-valid test rejects H0: d <= 0 at alpha/n_metrics (or the
    canary significantly breaches ``limit`` where the baseline does not); promote if every
    metric rejects H0: d >= margin at alpha and has min_samples in both arms after warm-up.
    Raises JudgeInputError on malformed requests; missing or empty data gives "continue".
    """
    req = parse_request(request)
    if not req.metrics:
        return {"decision": "continue", "reason": "no metrics yet: nothing to judge", "metrics": []}
    results = [_judge_metric(m, req, len(req.metrics)) for m in req.metrics]
    rollbacks = [r for r in results if r["decision"] == "rollback"]
    if rollbacks:
        reason = "; ".join(f"{r['name']}: {r['reason']}" for r in rollbacks)
        return {"decision": "rollback", "reason": reason, "metrics": results}
    if all(r["decision"] == "promote" for r in results):
        return {
            "decision": "promote",
            "reason": f"all {len(results)} metrics shown non-inferior within their margins",
            "metrics": results,
        }
    pending = [r for r in results if r["decision"] != "promote"]
    reason = "; ".join(f"{r['name']}: {r['reason']}" for r in pending)
    return {"decision": "continue", "reason": reason, "metrics": results}
