"""evaluate() on per-minute requests: strata, warm-up, limits, late regressions, the spread."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from guardrails.judge import evaluate
from guardrails.judge.sequential import LATE_SHARE, RECENT_MINUTES
from tests.unit.judge.builders import mean_minute, mean_minutes, prop, prop_minutes


def judge(*metrics: dict[str, Any], **top: Any) -> dict[str, Any]:
    return evaluate({"metrics": list(metrics), **top})


def test_one_minute_is_the_cumulative_test_with_restarts_to_come() -> None:
    cumulative = judge(prop(57, 11843, 9, 612))["metrics"][0]
    minute = judge(prop_minutes((57, 11843, 9, 612)))["metrics"][0]
    assert minute["estimate"] == pytest.approx(cumulative["estimate"])
    assert minute["decision"] == cumulative["decision"]
    # The statistic is (1 - LATE_SHARE) x the whole test + LATE_SHARE x 1 (no restart yet).
    e_cumulative = 1 / cumulative["p_value"]
    assert 1 / minute["p_value"] == pytest.approx((1 - LATE_SHARE) * e_cumulative + LATE_SHARE)


def test_a_share_change_during_a_shared_rise_is_not_a_regression() -> None:
    # Five minutes at a 10% share and 1% errors, then five at 50% share and 5% errors, the
    # same in both fleets. Summed, the canary has more of the bad minutes: 4.3% vs 2.4%.
    minutes = [(9, 900, 1, 100)] * 5 + [(25, 500, 25, 500)] * 5
    cumulative = prop(sum(m[0] for m in minutes), sum(m[1] for m in minutes),
                      sum(m[2] for m in minutes), sum(m[3] for m in minutes))  # fmt: skip
    assert judge(cumulative)["decision"] == "rollback"
    res = judge(prop_minutes(*minutes))["metrics"][0]
    assert res["decision"] != "rollback"
    assert res["estimate"] == pytest.approx(0.0)


def test_a_shared_outage_minute_does_not_trip_the_limit() -> None:
    calm = (5, 900, 0, 100)
    outage = (180, 900, 20, 100)  # 20% 5xx in both fleets for one minute
    res = judge(prop_minutes(calm, calm, outage, calm, calm, limit=0.01), min_samples=100)
    assert res["decision"] != "rollback"
    # The same minute with only the canary failing is the canary's fault.
    alone = (5, 900, 20, 100)
    res = judge(prop_minutes(calm, calm, alone, calm, calm, limit=0.01), min_samples=100)
    assert res["decision"] == "rollback"
    assert "where the baseline is not" in res["reason"]


def cold_start(warmup: int) -> dict[str, Any]:
    """Latency x3 in the canary's first two minutes, judged in the third (300 a minute)."""
    minutes = [(2700, 50.0, 300, 150.0)] * 2 + [(2700, 50.0, 300, 50.0)]
    return judge(mean_minutes(*minutes), warmup_minutes=warmup)


def test_warm_up_leaves_a_cold_start_out_of_the_comparison() -> None:
    assert cold_start(0)["decision"] == "rollback"
    res = cold_start(2)
    assert res["decision"] != "rollback"
    assert res["metrics"][0]["n_canary"] == 900  # what was seen, warm-up included


def test_warm_up_counts_the_canarys_minutes_not_the_updates() -> None:
    # Two minutes of provisioning (no canary traffic) do not use up the warm-up.
    provisioning = {"baseline": mean_minute(1000, 50.0), "canary": None}
    metric = mean_minutes(*([(900, 50.0, 100, 150.0)] * 2 + [(900, 50.0, 100, 50.0)] * 28))
    metric["minutes"] = [provisioning, provisioning, *metric["minutes"]]
    assert judge(metric, warmup_minutes=2)["decision"] != "rollback"
    res = judge(metric, warmup_minutes=40)["metrics"][0]
    assert res["reason"].startswith("warming up: the canary's first 40 minutes")
    assert res["estimate"] is None


def test_limits_stay_live_during_warm_up() -> None:
    gross = prop_minutes((9, 900, 40, 100), (9, 900, 40, 100), limit=0.01)
    res = judge(gross, warmup_minutes=5)
    assert res["decision"] == "rollback"
    assert "limit" in res["reason"]


def test_a_late_regression_is_caught_by_a_restarted_test() -> None:
    # 100 calm minutes, then ten with three times the errors: the whole-rollout averages
    # barely move, the restart at minute 100 sees only the regression.
    minutes = [(9, 900, 1, 100)] * 100 + [(9, 900, 3, 100)] * 10
    totals = [sum(m[i] for m in minutes) for i in range(4)]
    assert judge(prop(*totals))["decision"] != "rollback"
    res = judge(prop_minutes(*minutes))
    assert res["decision"] == "rollback"
    assert "regression" in res["reason"]
    # The bound inverts the combined test: a constant difference above 0 is all it admits.
    assert res["metrics"][0]["ci"][0] > 0


def test_promotion_waits_while_the_last_minutes_are_beyond_the_margin() -> None:
    calm = [(900, 50.0, 100, 50.0)] * 60
    # 7.5 ms worse for the last 10 minutes (margin 5 ms, their standard error 2.2 ms): not
    # yet a significant regression, but beyond the margin by more than the noise.
    late = [(900, 50.0, 100, 57.5)] * RECENT_MINUTES
    assert judge(mean_minutes(*calm))["decision"] == "promote"
    res = judge(mean_minutes(*calm, *late))["metrics"][0]
    assert res["decision"] == "continue"
    assert f"the last {RECENT_MINUTES} minutes put the canary 7.5 worse" in res["reason"]
    # Within a standard error of the margin it is noise: no wait.
    slightly = [(900, 50.0, 100, 56.0)] * RECENT_MINUTES
    assert judge(mean_minutes(*calm, *slightly))["decision"] == "promote"


def test_after_a_late_step_the_interval_is_the_harmful_bound_alone() -> None:
    # Calm for an hour, then 6.5 ms worse at 1,000 canary requests a minute: the restart
    # rolls back; no constant difference fits both periods.
    minutes = [(9000, 50.0, 1000, 50.0)] * 60 + [(9000, 50.0, 1000, 56.5)] * RECENT_MINUTES
    res = judge(mean_minutes(*minutes))["metrics"][0]
    assert res["decision"] == "rollback"
    lo, hi = res["ci"]
    assert 0 < lo == hi
    assert res["estimate"] < lo  # the whole-rollout average is diluted


def test_the_spread_needs_percentiles_min_max_or_enough_minutes() -> None:
    bare = mean_minutes(*[(900, 50.0, 100, 50.0)] * 5)
    for minute in bare["minutes"]:
        for arm in minute.values():
            for key in ("min", "max", "p50", "p90", "p99"):
                del arm[key]
    res = judge(bare)["metrics"][0]
    assert res["decision"] == "continue" and "no spread yet" in res["reason"]
    with_range = copy.deepcopy(bare)
    for minute in with_range["minutes"]:
        for arm in minute.values():
            arm["min"], arm["max"] = 5.0, 200.0
    assert "no spread yet" not in judge(with_range)["metrics"][0]["reason"]


def test_the_latency_spread_is_not_floored_by_the_mean() -> None:
    # 7 ms worse on a 50 ms mean, log-normal sd 65.5 ms, 500 canary requests: the sd of the
    # difference is 3.1 ms, not enough to tell. A std floored at half the mean (25 ms) said
    # 6 sd and rolled back.
    early = judge(mean_minutes(*[(900, 50.0, 100, 57.0)] * 5))["metrics"][0]
    assert early["decision"] == "continue"
    assert early["ci"][0] < 0
    later = judge(mean_minutes(*[(900, 50.0, 100, 57.0)] * 20))["metrics"][0]
    assert later["decision"] == "rollback"


def test_a_skewed_mean_is_not_judged_on_a_few_requests() -> None:
    # Two minutes 10 ms worse (200 canary requests): a log-normal mean of 200 requests has
    # skewness 0.44; its tail would make a normal test roll back too often. Limits still act.
    res = judge(mean_minutes(*[(900, 50.0, 100, 60.0)] * 2))["metrics"][0]
    assert res["decision"] == "continue"
    assert res["reason"].startswith("skewed values: the mean is judged from 426 canary requests")
    assert res["ci"][0] is None
    gross = judge(mean_minutes(*[(900, 50.0, 100, 900.0)] * 2, limit=500.0))
    assert gross["decision"] == "rollback"


def test_a_step_does_not_swamp_the_spread_of_the_differences() -> None:
    # One minute 100 ms worse among thirty calm ones: the spread is still the calm one,
    # so the minutes after it can still show a modest regression.
    minutes = [(900, 50.0, 100, 50.0)] * 29 + [(900, 50.0, 100, 150.0)]
    minutes += [(900, 50.0, 100, 60.0)] * 15
    assert judge(mean_minutes(*minutes))["decision"] == "rollback"


def test_the_response_reports_both_arms() -> None:
    res = judge(prop_minutes((10, 1000, 2, 100), (20, 1000, 0, 100)))["metrics"][0]
    assert (res["n_baseline"], res["n_canary"]) == (2000, 200)
    assert (res["baseline_value"], res["canary_value"]) == (0.015, 0.01)


def all_at_once(kind: str, before: list[Any], after: list[Any], **extra: Any) -> dict[str, Any]:
    """The baseline's minutes, then the canary's: the fleets never share a minute."""
    return {
        "name": "m",
        "kind": kind,
        "margin": 0.005 if kind == "proportion" else 5.0,
        "minutes": [{"baseline": arm, "canary": None} for arm in before]
        + [{"baseline": None, "canary": arm} for arm in after],
        **extra,
    }


def test_fleets_that_never_share_a_minute_are_compared_before_and_after() -> None:
    before = [{"events": 10, "trials": 1000}] * 10
    same = judge(all_at_once("proportion", before, [{"events": 10, "trials": 1000}] * 20))
    assert same["decision"] == "promote"
    worse = judge(all_at_once("proportion", before, [{"events": 40, "trials": 1000}] * 10))
    assert worse["decision"] == "rollback"
    assert worse["metrics"][0]["estimate"] == pytest.approx(0.03)


def test_before_and_after_leaves_the_warm_up_out_and_judges_means() -> None:
    before = [mean_minute(1000, 50.0)] * 10
    cold = [mean_minute(1000, 150.0)] * 2
    warm = [mean_minute(1000, 50.0)] * 20
    request = all_at_once("mean", before, cold + warm)
    assert judge(request, warmup_minutes=2)["decision"] == "promote"
    assert judge(request)["metrics"][0]["estimate"] > 5.0  # the cold start, counted
    during = judge(all_at_once("mean", before, cold), warmup_minutes=2)["metrics"][0]
    assert during["decision"] == "continue" and during["estimate"] is None
