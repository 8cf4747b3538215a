"""Whole rollouts against a simulated SageMaker with realistic timing (issue 11's "Done when").

Every rollout runs the real steps in the state machine's order, with its waits and retries,
while the simulated endpoint provisions, shifts, bakes and rolls back on its own clock and
CloudWatch sees per-minute traffic of both fleets (sagemaker_sim.py, state_machine_driver.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from guardrails import records
from guardrails.rollout.state import RolloutState
from tests.unit.rollout.doubles import ENDPOINT, LIVE_CONFIG, World, make_world
from tests.unit.rollout.sagemaker_sim import ModelProfile, SimulatedSageMaker, installed
from tests.unit.rollout.state_machine_driver import Driver, Run

ON_RECORDED_CONFIG = f"InService on {LIVE_CONFIG}"
# SageMaker's own 5xx alarm is set high, so that only the judge can catch these regressions.
ALARM_BLIND_TO_A_FEW_PERCENT = {"max_5xx_error_rate": 0.05}


HEALTHY = ModelProfile()


@pytest.fixture
def roll_out(aws, monkeypatch):
    """Runs one whole rollout on the simulated endpoint and returns (world, sim, run)."""

    def run(
        strategy: str,
        requests_per_minute: float,
        *,
        candidate: ModelProfile = HEALTHY,
        baseline: ModelProfile = HEALTHY,
        deployment: dict | None = None,
        judge: dict | None = None,
        endpoint: dict | None = None,
        autoscaled_to: int | None = None,
        **driver: Any,
    ) -> tuple[World, SimulatedSageMaker, Run]:
        """`autoscaled_to`: instances the endpoint has when the rollout starts (the live
        config still says 2); `driver`: failures, aborts or a timeout to inject."""
        world = make_world(
            monkeypatch,
            strategy=strategy,
            deployment={"wait_interval_seconds": 600, "termination_wait_seconds": 300,
                        **(deployment or {})},
            judge={"bake_time_seconds": 600, "max_bake_time_seconds": 7200, **(judge or {})},
            endpoint=endpoint,
        )  # fmt: skip
        sim = installed(
            world,
            monkeypatch,
            requests_per_minute=requests_per_minute,
            baseline=baseline,
            candidate=candidate,
        )
        if autoscaled_to is not None:
            sim.scale(autoscaled_to)
        return world, sim, Driver(world, sim, **driver).run()

    return run


def judge_fails(from_round: int = 0) -> Callable[[str, RolloutState | None], bool]:
    """A failure injected into the Judge step, from its `from_round`th round on."""
    return lambda step, state: step == "Judge" and (state.rounds if state else 0) >= from_round


def assert_ended_on_the_recorded_config(
    world: World, sim: SimulatedSageMaker, run: Run, result: str
) -> None:
    assert run.result == result
    assert f"{sim.status} on {sim.config_name}" == ON_RECORDED_CONFIG
    # The lock was released only once the endpoint served the recorded config again.
    assert run.lock_released_at is not None
    assert run.serving_when_unlocked == ON_RECORDED_CONFIG
    assert records.current_lock(world.table, ENDPOINT) is None


def judge_reasons(world: World) -> list[str]:
    decisions = records.list_decisions(world.table, "d-1", limit=500)
    return [d["details"].get("action_reason", "") for d in decisions if d["decided_by"] == "judge"]


def run_new_config(world: World) -> str:
    return records.get_deployment(world.table, "d-1").new_endpoint_config


@pytest.mark.parametrize("requests_per_minute", [150, 60])
@pytest.mark.parametrize(("strategy", "share"), [("canary", 0.10), ("linear", 0.25)])
def test_a_regression_at_low_traffic_never_gets_more_than_the_first_share(
    roll_out, requests_per_minute, strategy, share
):
    world, sim, run = roll_out(
        strategy,
        requests_per_minute,
        baseline=ModelProfile(error_rate=0.01),
        candidate=ModelProfile(error_rate=0.03),
        endpoint=ALARM_BLIND_TO_A_FEW_PERCENT,
    )

    assert sim.max_candidate_share == pytest.approx(share)
    assert_ended_on_the_recorded_config(world, sim, run, "ROLLED_BACK")


def test_a_healthy_model_under_linear_at_60_requests_a_minute_never_passes_its_first_step(
    roll_out,
):
    world, sim, run = roll_out("linear", 60)

    # Too little traffic for the judge to promote within a step: SageMaker is vetoed.
    assert sim.max_candidate_share == pytest.approx(0.25)
    assert any(reason.startswith("veto: SageMaker moves the new model from 25% to 50%")
               for reason in judge_reasons(world))  # fmt: skip
    assert_ended_on_the_recorded_config(world, sim, run, "ROLLED_BACK")


def test_a_healthy_model_with_enough_traffic_is_promoted_at_every_linear_step(roll_out):
    world, sim, run = roll_out(
        "linear",
        1500,
        deployment={"wait_interval_seconds": 900, "max_execution_timeout_seconds": 5400},
        judge={"bake_time_seconds": 1800},
    )

    assert run.result == "PROMOTED"
    assert f"{sim.status} on {sim.config_name}" == f"InService on {run_new_config(world)}"
    assert not any(reason.startswith("veto") for reason in judge_reasons(world))


def test_a_judge_failure_while_sagemaker_provisions_ends_on_the_recorded_config(roll_out):
    world, sim, run = roll_out("canary", 600, fail=judge_fails())

    assert run.path[:4] == ["Start", "Deploy", "Judge", "RecordFailure"]
    # Alarms are not checked while SageMaker provisions: the verdict was held through it
    # (once a minute) until the canary's baking window, where SageMaker rolled back.
    assert any("in ALARM while baking: SageMaker rolls back" in text for _, text in sim.events)
    assert len(sim.verdicts) >= sim.provisioning_seconds // 60
    assert sim.max_candidate_share <= 0.10
    assert_ended_on_the_recorded_config(world, sim, run, "FAILED")
    failed = [m for m in world.messages() if m["facts"]["kind"] == "failed"]
    assert len(failed) == 1 and "Judge failed (injected)" in failed[0]["facts"]["reason"]


@pytest.mark.parametrize("abort_after_minutes", [3, 12])  # provisioning; canary baking
def test_an_aborted_execution_mid_update_ends_on_the_recorded_config(roll_out, abort_after_minutes):
    world, sim, run = roll_out("canary", 600, abort_after_seconds=abort_after_minutes * 60)

    ((_, name, payload),) = run.cleanups
    assert payload["cleanup"]["deployment_id"] == "d-1" and name.endswith("-cleanup")
    assert_ended_on_the_recorded_config(world, sim, run, "FAILED")
    reason = records.get_deployment(world.table, "d-1").reason
    assert "ExecutionAborted" in reason and f"serves the recorded config {LIVE_CONFIG}" in reason


def test_an_endpoint_scaled_out_to_6_gets_a_new_fleet_of_6(roll_out):
    world, sim, run = roll_out(
        "canary",
        3000,
        deployment={"wait_interval_seconds": 900},
        endpoint={"max_capacity": 8},
        autoscaled_to=6,
    )

    assert run.result == "PROMOTED"
    new_config = sim.configs[run_new_config(world)]
    assert new_config["ProductionVariants"][0]["InitialInstanceCount"] == 6
    assert sim.live.variants["AllTraffic"]["instances"] == 6


def test_a_rollback_keeps_the_fleet_size_autoscaling_reached(roll_out):
    # SageMaker finished before the judge failed: the rollout rolls back with its own update.
    world, sim, run = roll_out(
        "all_at_once",
        600,
        deployment={"wait_interval_seconds": 60, "termination_wait_seconds": 0},
        endpoint={"max_capacity": 8},
        autoscaled_to=5,
        fail=judge_fails(from_round=12),
    )

    assert sim.updates[-1]["RetainAllVariantProperties"] is True
    assert sim.live.variants["AllTraffic"]["instances"] == 5
    assert_ended_on_the_recorded_config(world, sim, run, "FAILED")
    # On-call gets the judge's latest numbers with the failure, once.
    (failed,) = [m for m in world.messages() if m["facts"]["kind"] == "failed"]
    assert [row["name"] for row in failed["facts"]["metrics"]][:2] == [
        "error_rate_5xx",
        "error_rate_4xx",
    ]


def test_an_ab_candidate_never_gets_more_traffic_without_a_promote(roll_out):
    world, sim, run = roll_out(
        "ab",
        60,
        deployment={"ab_weight_steps": (10, 50, 100), "wait_interval_seconds": 60},
        judge={"max_bake_time_seconds": 3600},
    )

    assert "ShiftTraffic" not in run.path  # at 6 candidate requests a minute it never promoted
    assert sim.max_candidate_share == pytest.approx(0.10)
    assert_ended_on_the_recorded_config(world, sim, run, "ROLLED_BACK")


def test_a_failed_ab_rollout_takes_the_candidates_weight_away_then_its_config(roll_out):
    # The trial config's update is over after nine minutes; the judge fails after twelve.
    world, sim, run = roll_out(
        "ab",
        600,
        deployment={
            "ab_weight_steps": (10, 50, 100),
            "wait_interval_seconds": 60,
            "termination_wait_seconds": 0,
        },
        fail=judge_fails(from_round=12),
    )

    assert any("UpdateEndpointWeightsAndCapacities {'AllTraffic': 100.0, 'Candidate': 0.0}"
               in text for _, text in sim.events)  # fmt: skip
    assert sim.updates[-1]["EndpointConfigName"] == LIVE_CONFIG
    assert_ended_on_the_recorded_config(world, sim, run, "FAILED")


def test_a_failure_while_the_ab_trial_is_provisioned_holds_the_verdict(roll_out):
    world, sim, run = roll_out(
        "ab", 600, deployment={"ab_weight_steps": (10, 50, 100)}, fail=judge_fails()
    )

    # The trial config's update carries the rollback alarms: SageMaker undid it.
    assert any("in ALARM while baking: SageMaker rolls back" in text for _, text in sim.events)
    assert sim.updates[-1]["EndpointConfigName"] != LIVE_CONFIG  # no rollback update needed
    assert_ended_on_the_recorded_config(world, sim, run, "FAILED")


def test_a_failed_shadow_rollout_removes_the_shadow(roll_out):
    # The shadow serves (after eight minutes of provisioning) but is not promoted yet.
    world, sim, run = roll_out("shadow", 600, fail=judge_fails(from_round=9))

    assert sim.updates[-1]["EndpointConfigName"] == LIVE_CONFIG
    assert sim.max_candidate_share == 0  # a shadow answers no one
    assert_ended_on_the_recorded_config(world, sim, run, "FAILED")


def test_a_timed_out_rollout_is_cleaned_up_as_stuck(roll_out):
    world, sim, run = roll_out("canary", 600, timeout_seconds=11 * 60)

    assert_ended_on_the_recorded_config(world, sim, run, "FAILED")
    stuck = [m for m in world.messages() if m["facts"]["kind"] == "stuck"]
    assert len(stuck) == 1 and "States.Timeout" in stuck[0]["facts"]["reason"]
