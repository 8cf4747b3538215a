"""guardrails.judge.cloudwatch_simulation: what it publishes is what CloudWatch would."""

from __future__ import annotations

import math
from datetime import timedelta

import numpy as np
import pytest

from guardrails.judge.cloudwatch_simulation import START, FleetSimulator, Traffic
from guardrails.rollout.metrics import metric_queries

SUFFIXES = ("e5", "n5", "e4", "n4", "ls", "ln", "lmin", "lmax", "l50", "l90", "l99")


def run(traffic: Traffic, minutes: int, seed: int = 1, plan: str = "native") -> FleetSimulator:
    sim = FleetSimulator(traffic, seed=seed, plan=plan)
    for _ in range(minutes):
        sim.advance()
    return sim


def test_it_publishes_the_rollouts_query_ids() -> None:
    from guardrails.rollout.metrics import fleet_plan

    plan = fleet_plan(kind="native", endpoint_name="e", variant_name="v",
                      candidate_variant="", candidate_config="c")  # fmt: skip
    wanted = {q["Id"] for q in metric_queries(plan)} - {"a_qc", "a_qt", "b_qc", "b_qt"}
    assert set(run(Traffic(), 3).series) == wanted


def test_each_minute_is_internally_consistent() -> None:
    series = run(Traffic(error_rate=0.05, client_error_rate=0.02), 20).series
    for prefix in ("a", "b"):
        for stamp, count in series[f"{prefix}_ln"].items():
            values = {s: series[f"{prefix}_{s}"][stamp] for s in SUFFIXES}
            assert values["n5"] == values["n4"] == count
            assert 0 <= values["e5"] <= count and 0 <= values["e4"] <= count
            assert values["lmin"] <= values["l50"] <= values["l90"] <= values["l99"]
            assert values["l99"] <= values["lmax"]
            assert count * values["lmin"] <= values["ls"] <= count * values["lmax"]


def test_native_publishes_the_aggregate_and_ab_each_fleet() -> None:
    native = run(Traffic(), 5, seed=3).series
    ab = run(Traffic(), 5, seed=3, plan="ab").series
    for stamp in native["a_n5"]:
        # Same seed, same requests: the aggregate is both fleets together.
        assert native["a_n5"][stamp] == ab["a_n5"][stamp] + ab["b_n5"][stamp]
        assert native["a_ls"][stamp] == pytest.approx(ab["a_ls"][stamp] + ab["b_ls"][stamp])
        assert native["a_lmax"][stamp] == max(ab["a_lmax"][stamp], ab["b_lmax"][stamp])
    with pytest.raises(ValueError, match="plan"):
        FleetSimulator(Traffic(), seed=1, plan="blue")


def test_latency_is_log_normal_with_the_requested_mean() -> None:
    series = run(Traffic(latency_mean_ms=50.0, latency_sigma=1.0), 30).series
    total = sum(series["a_ls"].values()) / sum(series["a_ln"].values()) / 1000
    assert total == pytest.approx(50.0, rel=0.05)
    medians = np.array(list(series["a_l50"].values())) / 1000
    assert np.median(medians) == pytest.approx(50.0 * math.exp(-0.5), rel=0.05)


def test_shares_steps_trends_and_outages() -> None:
    traffic = Traffic(
        share_steps=((0, 0.1), (10, 0.5)), trend_per_minute=0.05, outage_minutes=(12,)
    )
    series = run(traffic, 20).series
    at = [START + timedelta(minutes=m) for m in range(20)]
    share = [series["b_n5"][t] / series["a_n5"][t] for t in at]
    assert 0.05 < np.mean(share[1:10]) < 0.15 and 0.4 < np.mean(share[10:]) < 0.6
    assert series["a_e5"][at[12]] / series["a_n5"][at[12]] == pytest.approx(0.2, abs=0.05)
    mean = [series["a_ls"][t] / series["a_n5"][t] for t in at]
    assert np.mean(mean[15:]) > 1.5 * np.mean(mean[1:5])  # 1 + 0.05 x minute


def test_a_shared_shock_moves_both_fleets_together() -> None:
    series = run(Traffic(shock_sigma=0.5, requests_per_minute=5000), 30, plan="ab").series
    stamps = sorted(series["a_ls"])
    base = [series["a_ls"][t] / series["a_ln"][t] for t in stamps]
    canary = [series["b_ls"][t] / series["b_ln"][t] for t in stamps]
    assert np.corrcoef(np.log(base), np.log(canary))[0, 1] > 0.8


def test_cold_start_and_late_regression_touch_only_the_canary() -> None:
    cold = Traffic(cold_start_minutes=2.0, cold_start_offset=0.0, latency_delta_ms=20.0,
                   regression_from=10, requests_per_minute=5000)  # fmt: skip
    series = run(cold, 15, plan="ab").series
    at = [START + timedelta(minutes=m) for m in range(15)]

    def mean(prefix: str, minute: int) -> float:
        t = at[minute]
        return series[f"{prefix}_ls"][t] / series[f"{prefix}_ln"][t] / 1000

    assert mean("b", 0) == pytest.approx(3 * mean("a", 0), rel=0.3)  # cold
    assert mean("b", 5) == pytest.approx(mean("a", 5), rel=0.3)  # warm, no regression yet
    assert mean("b", 12) - mean("a", 12) == pytest.approx(20.0, abs=8.0)


def test_a_seed_reproduces_a_rollout() -> None:
    assert run(Traffic(shock_sigma=0.2), 5, seed=9).series == run(
        Traffic(shock_sigma=0.2), 5, seed=9
    ).series
    assert run(Traffic(), 5, seed=9).series != run(Traffic(), 5, seed=10).series
