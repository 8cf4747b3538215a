"""CloudWatch series -> the judge's per-minute request, and missing data never promoting."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from guardrails.config import ConfigError
from guardrails.judge import evaluate
from guardrails.judge.cloudwatch_simulation import FleetSimulator, Traffic
from guardrails.rollout.metrics import fleet_plan, judge_request, metric_queries
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
    warmup_seconds=0,
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


def minutes(*values: float, start: int = 0) -> dict[datetime, float]:
    return {T0 + timedelta(minutes=start + i): v for i, v in enumerate(values)}


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
    assert len(queries) == 26
    green = queries["b_e5"]["Metric"]["Dimensions"]
    assert {"Name": "EndpointConfigName", "Value": "cfg-new"} in green
    assert queries["a_e5"]["Metric"]["Dimensions"] == [
        {"Name": "EndpointName", "Value": "e"},
        {"Name": "VariantName", "Value": "AllTraffic"},
    ]
    assert (queries["a_ln"]["Stat"], queries["a_ln"]["Period"]) == ("SampleCount", 60)
    assert queries["b_qc"]["Metric"]["Namespace"] == "Guardrails/Quality"


def test_latency_percentiles_are_extended_statistics_in_the_same_call():
    queries = {q["Id"]: q["MetricStat"] for q in metric_queries(NATIVE)}
    for prefix in ("a", "b"):
        stats = {queries[f"{prefix}_{s}"]["Stat"] for s in ("l50", "l90", "l99")}
        assert stats == {"p50", "p90", "p99"}
        assert queries[f"{prefix}_l99"]["Metric"]["MetricName"] == "ModelLatency"


def test_ab_and_shadow_compare_the_variants_by_name():
    candidate = {q["Id"]: q for q in metric_queries(AB)}["b_ls"]["MetricStat"]["Metric"]
    assert candidate["Dimensions"][1] == {"Name": "VariantName", "Value": "Candidate"}


def test_native_baseline_is_the_aggregate_minus_the_new_fleet_minute_by_minute():
    series = {
        **fleet("a", n=[1000, 1000], errors=[3, 13], latency_us=[50_000, 52_000]),
        **fleet("b", n=[100, 100], errors=[1, 11], latency_us=[70_000, 70_000]),
    }
    metrics = by_name(judge_request(series, plan=NATIVE, settings=SETTINGS))
    assert metrics["error_rate_5xx"]["minutes"] == [
        {"baseline": {"events": 2, "trials": 900}, "canary": {"events": 1, "trials": 100}},
        {"baseline": {"events": 2, "trials": 900}, "canary": {"events": 11, "trials": 100}},
    ]
    first = metrics["model_latency_ms"]["minutes"][0]
    assert first["canary"] == {"count": 100, "sum": pytest.approx(7000.0)}  # us -> ms
    assert first["baseline"]["sum"] == pytest.approx((1000 * 50_000 - 100 * 70_000) / 1000)


def test_the_request_carries_the_warm_up_in_whole_minutes():
    for seconds, expected in ((0, 0), (60, 1), (120, 2), (150, 3)):
        request = judge_request({}, plan=AB, settings=replace(SETTINGS, warmup_seconds=seconds))
        assert request["warmup_minutes"] == expected
    assert JudgeSettings().warmup_seconds == 120
    with pytest.raises(ConfigError, match="warmup_seconds"):
        JudgeSettings(warmup_seconds=4000)


def test_latency_minutes_carry_min_max_and_ordered_percentiles():
    series = fleet("b", n=[100], errors=[0], latency_us=[40_000], low=[1_000], high=[900_000])
    # CloudWatch's percentiles are approximations: out of order and past max here.
    series |= {"b_l50": minutes(30_000), "b_l90": minutes(20_000), "b_l99": minutes(950_000)}
    arm = judge_request(series, plan=AB, settings=SETTINGS)["metrics"][2]["minutes"][0]["canary"]
    assert arm == {
        "count": 100, "sum": pytest.approx(4000.0), "min": 1.0, "max": 900.0,
        "p50": 20.0, "p90": 30.0, "p99": 900.0,
    }  # fmt: skip


def test_an_inconsistent_minute_keeps_only_its_count_and_sum():
    # The new fleet's minute arrived before the aggregate's: the subtracted baseline mean
    # lies outside the aggregate's [min, max]. Its shape is not sent; the judge rejects none.
    series = {
        **fleet("a", n=[1000], errors=[0], latency_us=[10_000], low=[5_000], high=[20_000]),
        **fleet("b", n=[100], errors=[0], latency_us=[95_000], low=[90_000], high=[99_000]),
    }
    request = judge_request(series, plan=NATIVE, settings=SETTINGS)
    baseline = request["metrics"][2]["minutes"][0]["baseline"]
    assert set(baseline) == {"count", "sum"}
    evaluate(request)


def test_a_new_fleet_ahead_of_the_aggregate_leaves_the_baseline_without_data():
    series = {
        **fleet("a", n=[50], errors=[0], latency_us=[1000]),
        **fleet("b", n=[80], errors=[2], latency_us=[1000]),
    }
    metrics = by_name(judge_request(series, plan=NATIVE, settings=SETTINGS))
    assert metrics["error_rate_5xx"]["minutes"][0]["baseline"] is None


def test_minutes_without_data_are_kept_as_gaps():
    series = {"a_n5": minutes(100, start=0) | minutes(100, start=3), "a_e5": minutes(1, 1)}
    entries = by_name(judge_request(series, plan=AB, settings=SETTINGS))["error_rate_5xx"]
    assert len(entries["minutes"]) == 4
    assert entries["minutes"][1] == {"baseline": None, "canary": None}


def test_missing_fleets_become_missing_arms_and_the_judge_waits():
    request = judge_request(fleet("a", [500], [0], [50_000]), plan=AB, settings=SETTINGS)
    assert all(m["minutes"][0]["canary"] is None for m in request["metrics"])
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
    assert quality["minutes"] == [
        {"baseline": {"events": 900, "trials": 1000}, "canary": {"events": 80, "trials": 100}}
    ]


def test_margins_the_judge_cannot_take_are_capped():
    loose = replace(SETTINGS, error_rate_margin=0.9, max_error_rate=1.0)
    metric = by_name(judge_request({}, plan=AB, settings=loose))["error_rate_5xx"]
    assert (metric["margin"], metric["limit"]) == (0.499, None)


def simulated(traffic: Traffic, minutes_: int, seed: int = 1) -> dict:
    sim = FleetSimulator(traffic, seed=seed)
    for _ in range(minutes_):
        sim.advance()
    return sim.series


HEALTHY = simulated(Traffic(latency_mean_ms=50.0, error_rate=0.002), 40)


def test_a_healthy_candidate_with_plenty_of_data_is_promoted():
    request = judge_request(HEALTHY, plan=NATIVE, settings=SETTINGS)
    assert evaluate(request)["decision"] == "promote"


def test_a_slower_candidate_is_rolled_back_through_the_reader():
    slow = simulated(Traffic(latency_mean_ms=50.0, latency_delta_ms=15.0), 15)
    response = evaluate(judge_request(slow, plan=NATIVE, settings=SETTINGS))
    assert response["decision"] == "rollback"
    assert "model_latency_ms" in response["reason"]


@settings(max_examples=40, deadline=None)
@given(dropped=st.sets(st.sampled_from(sorted(HEALTHY)), min_size=1))
def test_missing_metrics_never_lead_to_a_promotion(dropped):
    # Without its counts, its errors or its latency sum, a fleet has no data that minute.
    essential = {"a_n5", "a_e5", "a_n4", "a_e4", "a_ln", "a_ls",
                 "b_n5", "b_e5", "b_n4", "b_e4", "b_ln", "b_ls"}  # fmt: skip
    series = {key: value for key, value in HEALTHY.items() if key not in dropped}
    decision = evaluate(judge_request(series, plan=NATIVE, settings=SETTINGS))["decision"]
    if dropped & essential:
        assert decision != "promote"
