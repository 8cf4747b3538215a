"""The rollout's CloudWatch metrics: what it reads of the two fleets, and the verdict it publishes.

Pure: no AWS calls. The reader turns both fleets' per-minute metrics into the judge's request.

Which fleet is which:
- native strategies (SageMaker blue/green or rolling): the aggregate (EndpointName, VariantName)
  covers both fleets, the new fleet also publishes with EndpointConfigName=<new config>; so
  baseline = aggregate - new fleet, minute by minute.
- A/B: each production variant publishes under its own VariantName.
- shadow: the shadow variant publishes under its own VariantName and serves no one.

CloudWatch gives no per-request standard deviation. For latency the std is estimated
conservatively from per-minute data (see `_mean_arm` and docs/architecture.md).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from guardrails.rollout.settings import JudgeSettings

# The judge's verdict, published every round; the VerdictAlarm rolls SageMaker's update back.
VERDICT_NAMESPACE = "Guardrails"
VERDICT_METRIC = "JudgeVerdict"
VERDICT_ROLLBACK = 1  # published when the judge decides rollback
VERDICT_OK = 0  # published on continue and promote

SAGEMAKER_NAMESPACE = "AWS/SageMaker"
# Optional model quality, published by the application under the variant's dimensions.
QUALITY_NAMESPACE = "Guardrails/Quality"
QUALITY_CORRECT_METRIC = "LabelledCorrect"
QUALITY_TOTAL_METRIC = "LabelledTotal"
PERIOD_SECONDS = 60
MICROSECONDS_PER_MILLISECOND = 1000.0
# Latency std is taken at least this share of the mean: latency is right-skewed, and
# between-minute spread alone underestimates the per-request spread.
LATENCY_CV_FLOOR = 0.5

ERROR_RATE_5XX = "error_rate_5xx"
ERROR_RATE_4XX = "error_rate_4xx"
MODEL_LATENCY = "model_latency_ms"
LABELLED_ACCURACY = "labelled_accuracy"

# Query suffix -> (namespace, metric, statistic). Additive statistics can be subtracted.
_FIELDS = {
    "e5": (SAGEMAKER_NAMESPACE, "Invocation5XXErrors", "Sum"),
    "n5": (SAGEMAKER_NAMESPACE, "Invocation5XXErrors", "SampleCount"),
    "e4": (SAGEMAKER_NAMESPACE, "Invocation4XXErrors", "Sum"),
    "n4": (SAGEMAKER_NAMESPACE, "Invocation4XXErrors", "SampleCount"),
    "ls": (SAGEMAKER_NAMESPACE, "ModelLatency", "Sum"),
    "ln": (SAGEMAKER_NAMESPACE, "ModelLatency", "SampleCount"),
    "lmin": (SAGEMAKER_NAMESPACE, "ModelLatency", "Minimum"),
    "lmax": (SAGEMAKER_NAMESPACE, "ModelLatency", "Maximum"),
    "qc": (QUALITY_NAMESPACE, QUALITY_CORRECT_METRIC, "Sum"),
    "qt": (QUALITY_NAMESPACE, QUALITY_TOTAL_METRIC, "Sum"),
}
_NOT_ADDITIVE = ("lmin", "lmax")

Minutes = Mapping[datetime, float]


@dataclass(frozen=True, kw_only=True)
class FleetPlan:
    """The dimensions of the two query sets and how they become baseline and candidate."""

    first: Mapping[str, str]  # queried as "a_*"
    second: Mapping[str, str]  # queried as "b_*": always the candidate
    subtract: bool  # True: baseline = first - second (blue/green aggregate); else first


def fleet_plan(
    *,
    kind: str,
    endpoint_name: str,
    variant_name: str,
    candidate_variant: str,
    candidate_config: str,
) -> FleetPlan:
    """Where baseline and candidate metrics live for a strategy kind (native, ab, shadow)."""
    production = {"EndpointName": endpoint_name, "VariantName": variant_name}
    if kind == "native":
        return FleetPlan(
            first=production,
            second={**production, "EndpointConfigName": candidate_config},
            subtract=True,
        )
    if not candidate_variant:
        raise ValueError(f"candidate_variant: required for strategy kind {kind!r}")
    candidate = {"EndpointName": endpoint_name, "VariantName": candidate_variant}
    return FleetPlan(first=production, second=candidate, subtract=False)


def metric_queries(plan: FleetPlan) -> list[dict[str, Any]]:
    """GetMetricData queries for both query sets, one-minute periods."""
    queries = []
    for prefix, dimensions in (("a", plan.first), ("b", plan.second)):
        for suffix, (namespace, metric, stat) in _FIELDS.items():
            queries.append(
                {
                    "Id": f"{prefix}_{suffix}",
                    "MetricStat": {
                        "Metric": {
                            "Namespace": namespace,
                            "MetricName": metric,
                            "Dimensions": [
                                {"Name": k, "Value": v} for k, v in sorted(dimensions.items())
                            ],
                        },
                        "Period": PERIOD_SECONDS,
                        "Stat": stat,
                    },
                    "ReturnData": True,
                }
            )
    return queries


def arms(
    series: Mapping[str, Minutes], plan: FleetPlan
) -> tuple[dict[str, Minutes], dict[str, Minutes]]:
    """Per-minute series of baseline and candidate, keyed by field suffix."""
    first = {suffix: series.get(f"a_{suffix}", {}) for suffix in _FIELDS}
    candidate = {suffix: series.get(f"b_{suffix}", {}) for suffix in _FIELDS}
    if not plan.subtract:
        return first, candidate
    baseline: dict[str, Minutes] = {}
    for suffix in _FIELDS:
        if suffix in _NOT_ADDITIVE:
            # The aggregate's extremes bound the baseline's: its requests are among them.
            baseline[suffix] = first[suffix]
            continue
        # The two series are published independently: a minute can briefly show more in
        # the new fleet than in the aggregate. Clamp rather than go negative.
        baseline[suffix] = {
            stamp: max(0.0, value - candidate[suffix].get(stamp, 0.0))
            for stamp, value in first[suffix].items()
        }
    return baseline, candidate


def judge_request(
    series: Mapping[str, Minutes], *, plan: FleetPlan, settings: JudgeSettings
) -> dict[str, Any]:
    """The judge's request: cumulative error rates, latency and (when published) quality."""
    baseline, candidate = arms(series, plan)
    metrics: list[dict[str, Any]] = [
        {
            "name": ERROR_RATE_5XX,
            "kind": "proportion",
            "higher_is_worse": True,
            "margin": _proportion_margin(settings.error_rate_margin),
            "limit": settings.max_error_rate if settings.max_error_rate < 1 else None,
            "baseline": _proportion_arm(baseline["e5"], baseline["n5"]),
            "canary": _proportion_arm(candidate["e5"], candidate["n5"]),
        },
        {
            # 4xx include the model's own errors (ModelError is a 424); clients' bad
            # requests hit both fleets alike, so this is compared, not held to a limit.
            "name": ERROR_RATE_4XX,
            "kind": "proportion",
            "higher_is_worse": True,
            "margin": _proportion_margin(settings.error_rate_margin),
            "baseline": _proportion_arm(baseline["e4"], baseline["n4"]),
            "canary": _proportion_arm(candidate["e4"], candidate["n4"]),
        },
        {
            "name": MODEL_LATENCY,
            "kind": "mean",
            "higher_is_worse": True,
            "margin": settings.latency_margin_ms,
            "limit": settings.max_latency_ms,
            "baseline": _mean_arm(baseline),
            "canary": _mean_arm(candidate),
        },
    ]
    if _has_data(baseline["qt"]) or _has_data(candidate["qt"]):
        metrics.append(
            {
                "name": LABELLED_ACCURACY,
                "kind": "proportion",
                "higher_is_worse": False,
                "margin": _proportion_margin(settings.quality_margin),
                "baseline": _proportion_arm(baseline["qc"], baseline["qt"]),
                "canary": _proportion_arm(candidate["qc"], candidate["qt"]),
            }
        )
    return {"alpha": settings.alpha, "min_samples": settings.min_samples, "metrics": metrics}


def _proportion_margin(margin: float) -> float:
    # The judge takes proportion margins below 0.5; a larger one means "any rise is fine".
    return min(margin, 0.499)


def _has_data(minutes: Minutes) -> bool:
    return any(value > 0 for value in minutes.values())


def _proportion_arm(events: Minutes, trials: Minutes) -> dict[str, int] | None:
    """{events, trials} summed over minutes; None when CloudWatch has nothing at all."""
    if not trials:
        return None
    # A minute counts only with both statistics: a count without its errors proves nothing.
    stamps = trials.keys() & events.keys()
    total = round(sum(trials[stamp] for stamp in stamps))
    bad = round(sum(events[stamp] for stamp in stamps))
    return {"events": min(max(bad, 0), total), "trials": total}


def _mean_arm(fields: Mapping[str, Minutes]) -> dict[str, float | int] | None:
    """{n, mean, std} of model latency in ms; None when CloudWatch has nothing at all.

    std = min(range bound, max(between-minute estimate, LATENCY_CV_FLOOR * mean)):
    - between-minute: a minute's mean of n requests varies with std/sqrt(n), so
      n_i * (m_i - m)^2 estimates the per-request variance;
    - the floor keeps a smooth series from looking precise;
    - Popoviciu's inequality bounds any std by half the range of the values, and CloudWatch
      gives each minute's Minimum and Maximum.
    """
    sums, counts = fields["ls"], fields["ln"]
    if not counts:
        return None
    # As for proportions, a minute counts only with both its sum and its sample count.
    minutes = [
        (counts[stamp], sums.get(stamp, 0.0) / counts[stamp] / MICROSECONDS_PER_MILLISECOND)
        for stamp in counts.keys() & sums.keys()
        if counts[stamp] > 0
    ]
    n = round(sum(count for count, _ in minutes))
    if n == 0:
        return {"n": 0}
    mean = sum(count * value for count, value in minutes) / sum(c for c, _ in minutes)
    between = 0.0
    if len(minutes) > 1:
        spread = sum(count * (value - mean) ** 2 for count, value in minutes)
        between = math.sqrt(spread / (len(minutes) - 1))
    std = max(between, LATENCY_CV_FLOOR * mean)
    lows, highs = fields["lmin"].values(), fields["lmax"].values()
    if lows and highs:
        bound = (max(highs) - min(lows)) / 2 / MICROSECONDS_PER_MILLISECOND
        std = min(std, max(bound, 0.0))
    return {"n": n, "mean": mean, "std": std}


def candidate_minutes(series: Mapping[str, Minutes]) -> list[datetime]:
    """The minutes in which the candidate fleet served requests, oldest first.

    Its 5xx SampleCount counts every request it answered (the "b_" queries are the candidate's).
    """
    return sorted(stamp for stamp, count in series.get("b_n5", {}).items() if count > 0)
