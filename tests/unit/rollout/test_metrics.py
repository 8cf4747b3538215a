"""CloudWatch series -> the judge's request, and missing data never promoting."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from guardrails.judge import evaluate
from guardrails.rollout.metrics import (
    LATENCY_CV_FLOOR,
    fleet_plan,
    judge_request,
    metric_queries,
)
from guardrails.rollout.settings import JudgeSettings

SETTINGS = JudgeSettings(
    alpha=0.05,
    min_samples=100,
    error_rate_margin=0.005,
    max_error_rate=0.01,
    latency_margin_ms=5.0,
    max_latency_ms=500.0,
    interval_seconds=60,
    bake_time_seconds=600,
    max_bake_time_seconds=7200,
)
NATIVE = fleet_plan(
    kind="native",
    endpoint_name="e",
    variant_name="AllTraffic",
    candidate_variant="",
    candidate_config="cfg-new",
)
AB = fleet_plan(
    kind="ab", endpoint_name="e", variant_name="AllTraffic", candidate_variant="Candidate",
    candidate_config="cfg-trial",
)  # fmt: skip
T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def minutes(*values: float) -> dict[datetime, float]:
    return {T0 + timedelta(minutes=i): v for i, v in enumerate(values)}


def fleet(prefix: str, n, errors, latency_us, low=None, high=None, client_errors=None) -> dict:
    series = {
        f"{prefix}_n5": minutes(*n),
        f"{prefix}_e5": minutes(*errors),
        f"{prefix}_n4": minutes(*n),
        f"{prefix}_e4": minutes(*(client_errors or [0] * len(n))),
        f"{prefix}_ln": minutes(*n),
        f"{prefix}_ls": minutes(*(c * m for c, m in zip(n, latency_us, strict=True))),
    }
    if low is not None:
        series[f"{prefix}_lmin"] = minutes(*low)
        series[f"{prefix}_lmax"] = minutes(*high)
    return series


def by_name(request: dict) -> dict:
    return {metric["name"]: metric for metric in request["metrics"]}


def test_native_queries_the_aggregate_and_the_new_fleet_by_its_config():
    queries = {q["Id"]: q["MetricStat"] for q in metric_queries(NATIVE)}
    assert len(queries) == 20
    green = queries["b_e5"]["Metric"]["Dimensions"]
    assert {"Name": "EndpointConfigName", "Value": "cfg-new"} in green
    assert queries["a_e5"]["Metric"]["Dimensions"] == [
        {"Name": "EndpointName", "Value": "e"},
        {"Name": "VariantName", "Value": "AllTraffic"},
    ]
    assert (queries["a_ln"]["Stat"], queries["a_ln"]["Period"]) == ("SampleCount", 60)
    assert queries["b_qc"]["Metric"]["Namespace"] == "Guardrails/Quality"


def test_ab_and_shadow_compare_the_variants_by_name():
    candidate = {q["Id"]: q for q in metric_queries(AB)}["b_ls"]["MetricStat"]["Metric"]
    assert candidate["Dimensions"][1] == {"Name": "VariantName", "Value": "Candidate"}


def test_native_baseline_is_the_aggregate_minus_the_new_fleet():
    series = {
        **fleet("a", n=[1000, 1000], errors=[3, 13], latency_us=[50_000, 52_000]),
        **fleet("b", n=[100, 100], errors=[1, 11], latency_us=[70_000, 70_000]),
    }
    metrics = by_name(judge_request(series, plan=NATIVE, settings=SETTINGS))
    assert metrics["error_rate_5xx"]["baseline"] == {"events": 4, "trials": 1800}
    assert metrics["error_rate_5xx"]["canary"] == {"events": 12, "trials": 200}
    latency = metrics["model_latency_ms"]
    assert latency["canary"]["mean"] == pytest.approx(70.0)  # microseconds -> ms
    baseline_sum = (1000 * 50_000 - 100 * 70_000) + (1000 * 52_000 - 100 * 70_000)
    assert latency["baseline"]["mean"] == pytest.approx(baseline_sum / 1800 / 1000)


def test_a_new_fleet_ahead_of_the_aggregate_is_clamped_not_negative():
    series = {
        **fleet("a", n=[50], errors=[0], latency_us=[1000]),
        **fleet("b", n=[80], errors=[2], latency_us=[1000]),
    }
    metrics = by_name(judge_request(series, plan=NATIVE, settings=SETTINGS))
    assert metrics["error_rate_5xx"]["baseline"] == {"events": 0, "trials": 0}


def test_latency_std_has_a_floor_and_a_range_bound():
    steady = fleet("b", n=[100, 100, 100], errors=[0, 0, 0], latency_us=[40_000] * 3)
    arm = by_name(
        judge_request({**fleet("a", [1], [0], [1]), **steady}, plan=AB, settings=SETTINGS)
    )
    assert arm["model_latency_ms"]["canary"]["std"] == pytest.approx(LATENCY_CV_FLOOR * 40)
    bounded = fleet(
        "b", n=[100], errors=[0], latency_us=[40_000], low=[39_000], high=[41_000]
    )  # every request within 39-41 ms: the std cannot exceed 1 ms
    arm = by_name(judge_request(bounded, plan=AB, settings=SETTINGS))["model_latency_ms"]["canary"]
    assert arm["std"] == pytest.approx(1.0)


def test_spread_between_minutes_raises_the_std():
    jumpy = fleet("b", n=[400, 400], errors=[0, 0], latency_us=[20_000, 180_000])
    arm = by_name(judge_request(jumpy, plan=AB, settings=SETTINGS))["model_latency_ms"]["canary"]
    assert arm["std"] > LATENCY_CV_FLOOR * arm["mean"]


def test_missing_fleets_become_missing_arms_and_the_judge_waits():
    request = judge_request(fleet("a", [500], [0], [50_000]), plan=AB, settings=SETTINGS)
    assert all(metric["canary"] is None for metric in request["metrics"])
    assert evaluate(request)["decision"] == "continue"
    assert "labelled_accuracy" not in by_name(request)


def test_quality_is_judged_when_the_application_publishes_it():
    series = {
        "a_qc": minutes(900),
        "a_qt": minutes(1000),
        "b_qc": minutes(80),
        "b_qt": minutes(100),
    }
    quality = by_name(judge_request(series, plan=AB, settings=SETTINGS))["labelled_accuracy"]
    assert quality["higher_is_worse"] is False
    assert (quality["baseline"], quality["canary"]) == (
        {"events": 900, "trials": 1000},
        {"events": 80, "trials": 100},
    )


def test_margins_the_judge_cannot_take_are_capped():
    loose = replace(SETTINGS, error_rate_margin=0.9, max_error_rate=1.0)
    metric = by_name(judge_request({}, plan=AB, settings=loose))["error_rate_5xx"]
    assert (metric["margin"], metric["limit"]) == (0.499, None)


HEALTHY = {
    **fleet("a", n=[20_000] * 30, errors=[20] * 30, latency_us=[50_000] * 30),
    **fleet("b", n=[5_000] * 30, errors=[5] * 30, latency_us=[50_000] * 30),
}


def test_a_healthy_candidate_with_plenty_of_data_is_promoted():
    assert evaluate(judge_request(HEALTHY, plan=AB, settings=SETTINGS))["decision"] == "promote"


@settings(max_examples=60, deadline=None)
@given(dropped=st.sets(st.sampled_from(sorted(HEALTHY)), min_size=1))
def test_missing_metrics_never_lead_to_a_promotion(dropped):
    series = {key: value for key, value in HEALTHY.items() if key not in dropped}
    decision = evaluate(judge_request(series, plan=AB, settings=SETTINGS))["decision"]
    assert decision != "promote"
