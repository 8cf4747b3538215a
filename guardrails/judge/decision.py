"""Per-metric decisions and ``evaluate(request) -> response``, the judge's entry point.

Every call receives the cumulative data so far and answers "rollback", "continue" or
"promote". Guarantees (see docs/judge.md) hold however often and irregularly it is called,
because each decision is a test against a nonnegative supermartingale (Ville's inequality):

* rollback  - per metric, an always-valid one-sided test of H0 "canary no worse than
  baseline" (exact event-split mixture for proportions, normal mixture for means) at level
  alpha / n_metrics, or an always-valid test that the canary breaches its absolute ``limit``.
* promote   - every metric shows, with an always-valid test at level alpha, that the
  degradation is below its ``margin``, and min_samples is reached in both arms.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from guardrails.judge.request import JudgeRequest, Metric, parse_request
from guardrails.judge.sequential import mean_tests, proportion_tests

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

    t = (proportion_tests if m.kind == "proportion" else mean_tests)(m, a_reg, a_prom)
    sign = 1.0 if m.higher_is_worse else -1.0
    lo_h, hi_h = t.ci_harm
    ci = (lo_h, hi_h) if sign > 0 else (-hi_h, -lo_h)  # back to canary - baseline
    out["estimate"] = t.estimate
    out["ci"] = [_finite_or_none(ci[0]), _finite_or_none(ci[1])]
    out["p_value"] = _p(t.log_lr_reg)
    if t.log_lr_limit is not None:
        out["limit_p_value"] = _p(t.log_lr_limit)

    n_min = min(m.baseline.n, m.canary.n)
    if n_min < req.min_samples:
        out["reason"] = (
            f"waiting for min_samples {req.min_samples}: baseline {m.baseline.n}, "
            f"canary {m.canary.n}"
        )
        return out

    word = "above" if m.higher_is_worse else "below"
    limit_txt = ""
    if (
        m.limit is not None
        and t.log_lr_limit is not None
        and t.log_lr_limit >= math.log(1.0 / a_lim)
    ):
        limit_txt = (
            f"canary {_fmt(m.canary.value)} significantly {word} limit {_fmt(m.limit)} "
            f"(always-valid p={_fmt(_p(t.log_lr_limit))} <= {_fmt(a_lim)})"
        )
    if t.log_lr_reg >= math.log(1.0 / a_reg):
        out["decision"] = "rollback"
        reg_txt = (
            f"regression: canary - baseline = {_fmt(t.estimate)} "
            f"(always-valid p={_fmt(out['p_value'])} <= {_fmt(a_reg)})"
        )
        out["reason"] = reg_txt + (f"; {limit_txt}" if limit_txt else "")
        return out
    if limit_txt:
        out["decision"] = "rollback"
        out["reason"] = limit_txt
        return out
    if t.log_lr_prom >= math.log(1.0 / a_prom):
        if t.limit_harm is not None and t.canary_harm_value > t.limit_harm:
            out["reason"] = (
                f"non-inferior, but canary {_fmt(m.canary.value)} is {word} limit "
                f"{_fmt(m.limit or 0.0)} (not significant yet)"
            )
            return out
        out["decision"] = "promote"
        out["reason"] = (
            f"non-inferior: worst plausible degradation {_fmt(hi_h)} < margin "
            f"{_fmt(m.margin)} (always-valid, level {_fmt(a_prom)})"
        )
        return out
    out["reason"] = (
        f"inconclusive: canary - baseline = {_fmt(t.estimate)}, always-valid ci "
        f"[{_fmt(ci[0])}, {_fmt(ci[1])}]; neither a regression nor a degradation below "
        f"margin {_fmt(m.margin)} is shown yet"
    )
    return out


def evaluate(request: Mapping[str, Any]) -> dict[str, Any]:
    """Judge a canary from cumulative data: rollback, continue or promote.

    Per metric with harm-oriented difference d (canary - baseline, sign-flipped when lower is
    worse): rollback if an always-valid test rejects H0: d <= 0 at alpha/n_metrics (or the
    canary significantly breaches ``limit``); promote if every metric rejects H0: d >= margin
    at alpha and has min_samples in both arms. Raises JudgeInputError on malformed requests;
    missing or empty data gives "continue".
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
