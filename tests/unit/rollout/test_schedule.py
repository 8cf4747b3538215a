"""When SageMaker shifts traffic in a native canary or linear update, and when to veto it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from guardrails.rollout import metrics, schedule
from guardrails.rollout.settings import DeploymentSettings, JudgeSettings

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)  # the new fleet's first traffic
CANARY = DeploymentSettings(strategy="canary", canary_percent=10, wait_interval_seconds=600)
LINEAR = DeploymentSettings(strategy="linear", linear_step_percent=30, wait_interval_seconds=600)
JUDGE = JudgeSettings()  # a look every 60 s: the veto's lead is 60 + 120 s


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


@pytest.mark.parametrize(
    ("deployment", "percents"),
    [
        (CANARY, (10, 100)),
        (LINEAR, (30, 60, 90, 100)),
        (DeploymentSettings(strategy="linear", linear_step_percent=25), (25, 50, 75, 100)),
        (DeploymentSettings(strategy="all_at_once"), (100,)),
    ],
)
def test_each_step_gives_the_new_fleet_its_share(deployment, percents):
    assert schedule.step_percents(deployment) == percents


def test_linear_steps_follow_each_other_every_wait_interval():
    step = schedule.current_step(LINEAR, T0, at(1250))
    assert (step.index, step.percent, step.starts_at, step.shift_at) == (2, 90, at(1200), at(1800))
    last = schedule.current_step(LINEAR, T0, at(5000))
    assert (last.index, last.percent, last.shift_at) == (3, 100, None)


def veto(deployment=CANARY, *, now: float, promoted: float | None = None) -> str:
    return schedule.veto_reason(
        deployment,
        JUDGE,
        traffic_since=T0,
        promoted_at=None if promoted is None else at(promoted),
        now=at(now),
    )


def test_no_veto_while_a_later_round_can_still_stop_the_shift():
    assert veto(now=419) == ""  # the next round (479 s) plus the alarm (120 s) < 600 s


def test_the_last_round_before_the_shift_vetoes_an_undecided_step():
    reason = veto(now=420)
    assert reason.startswith("veto: SageMaker moves the new model from 10% to 100% of the traffic")
    assert "in 180 s" in reason


def test_a_promote_at_this_step_lets_the_shift_happen():
    assert veto(now=500, promoted=300) == ""


def test_a_promote_at_an_earlier_step_does_not_count_for_the_next():
    assert veto(LINEAR, now=1000, promoted=500) == ""  # step 2 starts at 600: 1000+180 < 1200
    reason = veto(LINEAR, now=1030, promoted=500)
    assert "from 60% to 90%" in reason
    assert veto(LINEAR, now=1030, promoted=700) == ""


@pytest.mark.parametrize("strategy", ["all_at_once", "rolling", "ab", "shadow"])
def test_only_canary_and_linear_are_vetoed(strategy):
    assert veto(DeploymentSettings(strategy=strategy), now=590) == ""


def test_no_veto_before_the_new_fleet_takes_traffic_nor_after_its_last_shift():
    assert schedule.veto_reason(CANARY, JUDGE, traffic_since=None, promoted_at=None, now=T0) == ""
    assert veto(now=700) == ""  # 100%: no traffic step left


def test_the_lock_lease_outlasts_the_longest_pause_between_refreshes():
    assert schedule.lock_lease_seconds(JUDGE) == 3 * schedule.BUSY_MAX_DELAY_SECONDS
    slow = JudgeSettings(interval_seconds=600)
    assert schedule.lock_lease_seconds(slow) == 1800


def test_the_new_fleets_first_minute_comes_from_the_readers_own_candidate_query():
    """The veto's fallback clock reads the reader's query ids: renaming them must fail here."""
    plan = metrics.fleet_plan(
        kind="native",
        endpoint_name="e",
        variant_name="AllTraffic",
        candidate_variant="",
        candidate_config="new",
    )
    (query,) = [q for q in metrics.metric_queries(plan) if q["Id"] == "b_n5"]
    stat = query["MetricStat"]
    assert (stat["Metric"]["MetricName"], stat["Stat"]) == ("Invocation5XXErrors", "SampleCount")
    assert {"Name": "EndpointConfigName", "Value": "new"} in stat["Metric"]["Dimensions"]
    series = {"b_n5": {at(120): 3.0, at(60): 0.0, at(180): 5.0}}
    assert metrics.candidate_minutes(series) == [at(120), at(180)]
