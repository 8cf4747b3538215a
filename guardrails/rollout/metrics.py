"""The rollout's CloudWatch metrics: what it reads of the two fleets, and the verdict it publishes.

Pure: no AWS calls. The reader turns both fleets' per-minute metrics into the judge's request,
in the per-minute form: the judge compares the fleets within each minute, so shocks, trends
and changes of the canary's share that both fleets see cancel.

Which fleet is which:
- native strategies (SageMaker blue/green or rolling): the aggregate (EndpointName, VariantName)
  covers both fleets, the new fleet also publishes with EndpointConfigName=<new config>; so
  baseline = aggregate - new fleet, minute by minute. Minimum, Maximum and the percentiles
  cannot be subtracted: the baseline takes the aggregate's (its requests are among them).
- A/B: each production variant publishes under its own VariantName.
- shadow: the shadow variant publishes under its own VariantName and serves no one.

CloudWatch gives no per-request standard deviation; for latency the reader sends each
minute's count, sum, min, max and p50/p90/p99 (extended statistics), and the judge derives the
spread (docs/judge.md).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from guardrails.namespace import NAMESPACE
from guardrails.rollout.settings import JudgeSettings

# The judge's verdict, published every round; the VerdictAlarm rolls SageMaker's update back.
VERDICT_NAMESPACE = NAMESPACE
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
    # Extended statistics: what the judge fits the latency spread to.
    "l50": (SAGEMAKER_NAMESPACE, "ModelLatency", "p50"),
    "l90": (SAGEMAKER_NAMESPACE, "ModelLatency", "p90"),
    "l99": (SAGEMAKER_NAMESPACE, "ModelLatency", "p99"),
    "qc": (QUALITY_NAMESPACE, QUALITY_CORRECT_METRIC, "Sum"),
    "qt": (QUALITY_NAMESPACE, QUALITY_TOTAL_METRIC, "Sum"),
}
_NOT_ADDITIVE = ("lmin", "lmax", "l50", "l90", "l99")
_PERCENTILES = (("p50", "l50"), ("p90", "l90"), ("p99", "l99"))

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
    """The judge's request, per minute: error rates, latency and (when published) quality.

    One entry per minute from the first minute with data to the last, gaps included, so a
    stored request replays exactly with `guardrails judge`.
    """
    baseline, candidate = (
        {suffix: _by_minute(minutes) for suffix, minutes in fleet.items()}
        for fleet in arms(series, plan)
    )
    stamps = _minutes(baseline, candidate)

    def proportion(events: str, trials: str) -> list[dict[str, Any]]:
        return [
            {
                "baseline": _proportion_minute(baseline[events], baseline[trials], stamp),
                "canary": _proportion_minute(candidate[events], candidate[trials], stamp),
            }
            for stamp in stamps
        ]

    metrics: list[dict[str, Any]] = [
        {
            "name": ERROR_RATE_5XX,
            "kind": "proportion",
            "higher_is_worse": True,
            "margin": _proportion_margin(settings.error_rate_margin),
            "limit": settings.max_error_rate if settings.max_error_rate < 1 else None,
            "minutes": proportion("e5", "n5"),
        },
        {
            # 4xx include the model's own errors (ModelError is a 424); clients' bad
            # requests hit both fleets alike, so this is compared, not held to a limit.
            "name": ERROR_RATE_4XX,
            "kind": "proportion",
            "higher_is_worse": True,
            "margin": _proportion_margin(settings.error_rate_margin),
            "minutes": proportion("e4", "n4"),
        },
        {
            "name": MODEL_LATENCY,
            "kind": "mean",
            "higher_is_worse": True,
            "margin": settings.latency_margin_ms,
            "limit": settings.max_latency_ms,
            "minutes": [
                {
                    "baseline": _latency_minute(baseline, stamp),
                    "canary": _latency_minute(candidate, stamp),
                }
                for stamp in stamps
            ],
        },
    ]
    if _has_data(baseline["qt"]) or _has_data(candidate["qt"]):
        metrics.append(
            {
                "name": LABELLED_ACCURACY,
                "kind": "proportion",
                "higher_is_worse": False,
                "margin": _proportion_margin(settings.quality_margin),
                "minutes": proportion("qc", "qt"),
            }
        )
    return {
        "alpha": settings.alpha,
        "min_samples": settings.min_samples,
        "warmup_minutes": math.ceil(settings.warmup_seconds / PERIOD_SECONDS),
        "metrics": metrics,
    }


def _proportion_margin(margin: float) -> float:
    # The judge takes proportion margins below 0.5; a larger one means "any rise is fine".
    return min(margin, 0.499)


def _has_data(minutes: Minutes) -> bool:
    return any(value > 0 for value in minutes.values())


def _minute(stamp: datetime) -> datetime:
    return stamp.replace(second=0, microsecond=0) if stamp.second or stamp.microsecond else stamp


def _minutes(*fleets: Mapping[str, Minutes]) -> list[datetime]:
    """Every minute from the first with data to the last, one-minute steps."""
    seen = {stamp for fleet in fleets for field in fleet.values() for stamp in field}
    if not seen:
        return []
    first, last = min(seen), max(seen)
    count = int((last - first).total_seconds()) // PERIOD_SECONDS + 1
    return [first + timedelta(seconds=PERIOD_SECONDS * i) for i in range(count)]


def _by_minute(minutes: Minutes) -> dict[datetime, float]:
    """Values keyed by the start of their minute (CloudWatch stamps periods by their start)."""
    isfinite = math.isfinite
    return {_minute(stamp): value for stamp, value in minutes.items() if isfinite(value)}


def _proportion_minute(events: Minutes, trials: Minutes, stamp: datetime) -> dict[str, int] | None:
    """{events, trials} of one minute; None without both statistics or without requests."""
    total, bad = trials.get(stamp), events.get(stamp)
    # A count without its errors proves nothing (and errors without a count cannot be rated).
    if total is None or bad is None or round(total) <= 0:
        return None
    count = round(total)
    return {"events": min(max(round(bad), 0), count), "trials": count}


def _latency_minute(fields: Mapping[str, Minutes], stamp: datetime) -> dict[str, Any] | None:
    """{count, sum, min, max, p50, p90, p99} of model latency in ms for one minute.

    Only what is consistent is sent: min/max and the percentiles go with the count and sum
    only when the sum lies within [count x min, count x max] (a new fleet's minute that
    arrived before the aggregate's makes a subtracted baseline inconsistent), and the
    percentiles are put in order inside [min, max] (CloudWatch's are approximations).
    """
    count, total = fields["ln"].get(stamp), fields["ls"].get(stamp)
    if count is None or total is None or round(count) <= 0:
        return None
    n = round(count)
    arm: dict[str, Any] = {"count": n, "sum": max(total, 0.0) / MICROSECONDS_PER_MILLISECOND}
    low, high = fields["lmin"].get(stamp), fields["lmax"].get(stamp)
    if low is None or high is None or low > high:
        return arm
    low, high = low / MICROSECONDS_PER_MILLISECOND, high / MICROSECONDS_PER_MILLISECOND
    slack = 1e-9 * max(abs(low), abs(high), 1.0) * n
    if not n * low - slack <= arm["sum"] <= n * high + slack:
        return arm
    arm["sum"] = min(max(arm["sum"], n * low), n * high)
    arm["min"], arm["max"] = low, high
    values = [fields[suffix].get(stamp) for _, suffix in _PERCENTILES]
    if all(v is not None for v in values):
        ordered = sorted(
            min(max(v / MICROSECONDS_PER_MILLISECOND, low), high) for v in values if v is not None
        )
        arm.update(zip((key for key, _ in _PERCENTILES), ordered, strict=True))
    return arm


def candidate_minutes(series: Mapping[str, Minutes]) -> list[datetime]:
    """The minutes in which the candidate fleet served requests, oldest first.

    Its 5xx SampleCount counts every request it answered (the "b_" queries are the candidate's).
    """
    return sorted(stamp for stamp, count in series.get("b_n5", {}).items() if count > 0)
