"""The judge of a first deploy: there is no baseline, so only the absolute limits count. Pure.

A first deploy creates the endpoint: nothing served before it, so there is nothing to compare
the new model with and nothing to roll back to. The rule (docs/architecture.md, "First
deploy"): roll back (delete the endpoint) as soon as an always-valid test shows the new model
above a limit: its 5xx error rate above `judge.max_error_rate`, or its mean model latency above
`judge.max_latency_ms`, each at level alpha / (number of limited metrics), with the judge's own
limit tests (valid however often they are looked at). Otherwise the verdict is "promote": the
policy promotes after `judge.bake_time_seconds` on an InService endpoint, and the smoke test
must then answer before the model counts as serving (a failing one deletes the endpoint too).
Missing data does not hold a first deploy back: a new endpoint has no callers yet.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from guardrails.judge.request import Metric, parse_request
from guardrails.judge.sequential import canary_limit_log_lr
from guardrails.rollout.metrics import FleetPlan


def single_fleet_plan(*, endpoint_name: str, variant_name: str) -> FleetPlan:
    """The new endpoint's only fleet, read into both query sets (the baseline is discarded)."""
    fleet = {"EndpointName": endpoint_name, "VariantName": variant_name}
    return FleetPlan(first=fleet, second=fleet, subtract=False)


def without_baseline(request: Mapping[str, Any]) -> dict[str, Any]:
    """The judge request as recorded: the candidate's numbers only (either request form)."""

    def alone(metric: Mapping[str, Any]) -> dict[str, Any]:
        if "minutes" in metric:
            return {**metric, "minutes": [{**m, "baseline": None} for m in metric["minutes"]]}
        return {**metric, "baseline": None}

    return {**request, "metrics": [alone(metric) for metric in request.get("metrics", [])]}


def limits_verdict(request: Mapping[str, Any]) -> dict[str, Any]:
    """Rollback when a limit is shown breached, else promote; in the judge's response shape."""
    parsed = parse_request(request)
    limited = [m for m in parsed.metrics if m.limit is not None]
    level = parsed.alpha / max(len(limited), 1)
    results = [_limit_result(m, level) for m in limited]
    breaches = [r for r in results if r["decision"] == "rollback"]
    if breaches:
        reason = "; ".join(f"{r['name']}: {r['reason']}" for r in breaches)
        return {"decision": "rollback", "reason": f"first deploy: {reason}", "metrics": results}
    return {
        "decision": "promote",
        "reason": "first deploy (no baseline): no limit shown breached",
        "metrics": results,
    }


def _limit_result(metric: Metric, level: float) -> dict[str, Any]:
    canary = metric.canary
    result: dict[str, Any] = {
        "name": metric.name,
        "decision": "continue",
        "estimate": None,
        "ci": None,
        "p_value": None,
        "limit_p_value": None,
        "alpha": level,
        "n_baseline": 0,
        "n_canary": canary.n if canary else 0,
        "reason": "no data yet",
    }
    if canary is None or canary.n == 0:
        return result
    log_lr = canary_limit_log_lr(metric) or 0.0  # None: no spread known yet, no evidence
    p_value = 1.0 if log_lr <= 0 else math.exp(-log_lr)
    result["limit_p_value"] = p_value
    if log_lr >= math.log(1.0 / level):
        result["decision"] = "rollback"
        result["reason"] = (
            f"{canary.value:.4g} significantly above limit {metric.limit:.4g} "
            f"(always-valid p={p_value:.4g} <= {level:.4g})"
        )
    else:
        result["decision"] = "promote"
        result["reason"] = f"{canary.value:.4g}, not shown above limit {metric.limit:.4g}"
    return result
