"""Whole rollouts against a simulated SageMaker with realistic timing (issue 11's "Done when").

Every rollout runs the real steps in the state machine's order, with its waits and retries,
while the simulated endpoint provisions, shifts, bakes and rolls back on its own clock and
CloudWatch sees per-minute traffic of both fleets (sagemaker_sim.py, state_machine_driver.py).
"""

from __future__ import annotations

import pytest
from moto import mock_aws

from guardrails import records
from tests.unit.rollout.doubles import ENDPOINT, LIVE_CONFIG, World, make_world
from tests.unit.rollout.sagemaker_sim import ModelProfile, SimulatedSageMaker, installed
from tests.unit.rollout.state_machine_driver import Driver, Run

ON_RECORDED_CONFIG = f"InService on {LIVE_CONFIG}"
# SageMaker's own 5xx alarm is set high, so that only the judge can catch these regressions.
ALARM_BLIND_TO_A_FEW_PERCENT = {"max_5xx_error_rate": 0.05}


@pytest.fixture
def aws():
    with mock_aws():
        yield


def simulate(
    monkeypatch,
    *,
    strategy: str,
    requests_per_minute: float,
    candidate: ModelProfile,
    baseline: ModelProfile | None = None,
    deployment: dict | None = None,
    judge: dict | None = None,
    endpoint: dict | None = None,
    seed: int = 0,
) -> tuple[World, SimulatedSageMaker]:
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
        baseline=baseline or ModelProfile(),
        candidate=candidate,
        seed=seed,
    )
    return world, sim


def assert_back_on_the_recorded_config(world: World, sim: SimulatedSageMaker, run: Run) -> None:
    assert f"{sim.status} on {sim.config_name}" == ON_RECORDED_CONFIG
    # The lock was released only once the endpoint served the recorded config again.
    assert run.lock_released_at is not None
    assert run.serving_when_unlocked == ON_RECORDED_CONFIG
    assert records.current_lock(world.table, ENDPOINT) is None


def judge_reasons(world: World) -> list[str]:
    decisions = records.list_decisions(world.table, "d-1", limit=500)
    return [d["details"].get("action_reason", "") for d in decisions if d["decided_by"] == "judge"]


@pytest.mark.parametrize("requests_per_minute", [150, 60])
@pytest.mark.parametrize(("strategy", "share"), [("canary", 0.10), ("linear", 0.25)])
def test_a_regression_at_low_traffic_never_gets_more_than_the_first_share(
    aws, monkeypatch, requests_per_minute, strategy, share
):
    world, sim = simulate(
        monkeypatch,
        strategy=strategy,
        requests_per_minute=requests_per_minute,
        baseline=ModelProfile(error_rate=0.01),
        candidate=ModelProfile(error_rate=0.03),
        endpoint=ALARM_BLIND_TO_A_FEW_PERCENT,
    )
    run = Driver(world, sim).run()

    assert run.result == "ROLLED_BACK"
    assert sim.max_candidate_share == pytest.approx(share)
    assert_back_on_the_recorded_config(world, sim, run)


def test_a_healthy_model_under_linear_at_60_requests_a_minute_never_passes_its_first_step(
    aws, monkeypatch
):
    world, sim = simulate(
        monkeypatch, strategy="linear", requests_per_minute=60, candidate=ModelProfile()
    )
    run = Driver(world, sim).run()

    # Too little traffic for the judge to promote within a step: SageMaker is vetoed.
    assert sim.max_candidate_share == pytest.approx(0.25)
    assert any(reason.startswith("veto: SageMaker moves the new model from 25% to 50%")
               for reason in judge_reasons(world))  # fmt: skip
    assert run.result == "ROLLED_BACK"
    assert_back_on_the_recorded_config(world, sim, run)


def test_a_healthy_model_with_enough_traffic_is_promoted_at_every_linear_step(aws, monkeypatch):
    world, sim = simulate(
        monkeypatch,
        strategy="linear",
        requests_per_minute=1500,
        candidate=ModelProfile(),
        deployment={"wait_interval_seconds": 900, "max_execution_timeout_seconds": 5400},
        judge={"bake_time_seconds": 1800},
    )
    run = Driver(world, sim).run()

    assert run.result == "PROMOTED"
    assert f"{sim.status} on {sim.config_name}" == f"InService on {run_new_config(world)}"
    assert not any(reason.startswith("veto") for reason in judge_reasons(world))


def run_new_config(world: World) -> str:
    return records.get_deployment(world.table, "d-1").new_endpoint_config


def test_a_judge_failure_while_sagemaker_provisions_ends_on_the_recorded_config(aws, monkeypatch):
    world, sim = simulate(
        monkeypatch, strategy="canary", requests_per_minute=600, candidate=ModelProfile()
    )
    run = Driver(world, sim, fail=lambda step, state: step == "Judge").run()

    assert run.path[:4] == ["Start", "Deploy", "Judge", "RecordFailure"]
    # Alarms are not checked while SageMaker provisions: the verdict was held through it
    # (once a minute) until the canary's baking window, where SageMaker rolled back.
    assert any("in ALARM while baking: SageMaker rolls back" in text for _, text in sim.events)
    assert len(sim.verdicts) >= sim.provisioning_seconds // 60
    assert sim.max_candidate_share <= 0.10
    assert run.result == "FAILED"
    assert_back_on_the_recorded_config(world, sim, run)
    failed = [m for m in world.messages() if m["facts"]["kind"] == "failed"]
    assert len(failed) == 1 and "Judge failed (injected)" in failed[0]["facts"]["reason"]


@pytest.mark.parametrize("abort_after_minutes", [3, 12])  # provisioning; canary baking
def test_an_aborted_execution_mid_update_ends_on_the_recorded_config(
    aws, monkeypatch, abort_after_minutes
):
    world, sim = simulate(
        monkeypatch, strategy="canary", requests_per_minute=600, candidate=ModelProfile()
    )
    run = Driver(world, sim, abort_after_seconds=abort_after_minutes * 60).run()

    ((_, name, payload),) = run.cleanups
    assert payload["cleanup"]["deployment_id"] == "d-1" and name.endswith("-cleanup")
    assert run.result == "FAILED"
    assert_back_on_the_recorded_config(world, sim, run)
    reason = records.get_deployment(world.table, "d-1").reason
    assert "ExecutionAborted" in reason and f"serves the recorded config {LIVE_CONFIG}" in reason


def test_an_endpoint_scaled_out_to_6_gets_a_new_fleet_of_6(aws, monkeypatch):
    world, sim = simulate(
        monkeypatch,
        strategy="canary",
        requests_per_minute=3000,
        candidate=ModelProfile(),
        deployment={"wait_interval_seconds": 900},
        endpoint={"max_capacity": 8},
    )
    sim.scale(6)  # autoscaling; the live config still says 2
    run = Driver(world, sim).run()

    assert run.result == "PROMOTED"
    new_config = sim.configs[run_new_config(world)]
    assert new_config["ProductionVariants"][0]["InitialInstanceCount"] == 6
    assert sim.live.variants["AllTraffic"]["instances"] == 6


def test_a_rollback_keeps_the_fleet_size_autoscaling_reached(aws, monkeypatch):
    world, sim = simulate(
        monkeypatch,
        strategy="all_at_once",
        requests_per_minute=600,
        candidate=ModelProfile(),
        deployment={"wait_interval_seconds": 60, "termination_wait_seconds": 0},
        endpoint={"max_capacity": 8},
    )
    sim.scale(5)
    # SageMaker finished before the judge failed: the rollout rolls back with its own update.
    run = Driver(world, sim, fail=lambda step, state: step == "Judge" and state.rounds >= 12).run()

    assert run.result == "FAILED"
    assert sim.updates[-1]["RetainAllVariantProperties"] is True
    assert sim.live.variants["AllTraffic"]["instances"] == 5
    assert_back_on_the_recorded_config(world, sim, run)
    # On-call gets the judge's latest numbers with the failure, once.
    (failed,) = [m for m in world.messages() if m["facts"]["kind"] == "failed"]
    assert [row["name"] for row in failed["facts"]["metrics"]][:2] == [
        "error_rate_5xx",
        "error_rate_4xx",
    ]


def test_an_ab_candidate_never_gets_more_traffic_without_a_promote(aws, monkeypatch):
    world, sim = simulate(
        monkeypatch,
        strategy="ab",
        requests_per_minute=60,
        candidate=ModelProfile(),
        deployment={"ab_weight_steps": (10, 50, 100), "wait_interval_seconds": 60},
        judge={"max_bake_time_seconds": 3600},
    )
    run = Driver(world, sim).run()

    assert "ShiftTraffic" not in run.path  # at 6 candidate requests a minute it never promoted
    assert sim.max_candidate_share == pytest.approx(0.10)
    assert run.result == "ROLLED_BACK"
    assert_back_on_the_recorded_config(world, sim, run)


def test_a_failed_ab_rollout_takes_the_candidates_weight_away_then_its_config(aws, monkeypatch):
    world, sim = simulate(
        monkeypatch,
        strategy="ab",
        requests_per_minute=600,
        candidate=ModelProfile(),
        # The trial config's update is over after nine minutes; the judge fails after twelve.
        deployment={
            "ab_weight_steps": (10, 50, 100),
            "wait_interval_seconds": 60,
            "termination_wait_seconds": 0,
        },
    )
    run = Driver(world, sim, fail=lambda step, state: step == "Judge" and state.rounds >= 12).run()

    rollback = sim.updates[-1]
    assert any("UpdateEndpointWeightsAndCapacities {'AllTraffic': 100.0, 'Candidate': 0.0}"
               in text for _, text in sim.events)  # fmt: skip
    assert rollback["EndpointConfigName"] == LIVE_CONFIG
    assert run.result == "FAILED"
    assert_back_on_the_recorded_config(world, sim, run)


def test_a_failure_while_the_ab_trial_is_provisioned_holds_the_verdict(aws, monkeypatch):
    world, sim = simulate(
        monkeypatch,
        strategy="ab",
        requests_per_minute=600,
        candidate=ModelProfile(),
        deployment={"ab_weight_steps": (10, 50, 100)},
    )
    run = Driver(world, sim, fail=lambda step, state: step == "Judge").run()

    # The trial config's update carries the rollback alarms: SageMaker undid it.
    assert any("in ALARM while baking: SageMaker rolls back" in text for _, text in sim.events)
    assert sim.updates[-1]["EndpointConfigName"] != LIVE_CONFIG  # no rollback update needed
    assert run.result == "FAILED"
    assert_back_on_the_recorded_config(world, sim, run)


def test_a_failed_shadow_rollout_removes_the_shadow(aws, monkeypatch):
    world, sim = simulate(
        monkeypatch, strategy="shadow", requests_per_minute=600, candidate=ModelProfile()
    )
    # The shadow serves (after eight minutes of provisioning) but is not promoted yet.
    run = Driver(world, sim, fail=lambda step, state: step == "Judge" and state.rounds >= 9).run()

    assert sim.updates[-1]["EndpointConfigName"] == LIVE_CONFIG
    assert sim.max_candidate_share == 0  # a shadow answers no one
    assert run.result == "FAILED"
    assert_back_on_the_recorded_config(world, sim, run)


def test_a_timed_out_rollout_is_cleaned_up_as_stuck(aws, monkeypatch):
    world, sim = simulate(
        monkeypatch, strategy="canary", requests_per_minute=600, candidate=ModelProfile()
    )
    run = Driver(world, sim, timeout_seconds=11 * 60).run()

    assert run.result == "FAILED"
    assert_back_on_the_recorded_config(world, sim, run)
    stuck = [m for m in world.messages() if m["facts"]["kind"] == "stuck"]
    assert len(stuck) == 1 and "States.Timeout" in stuck[0]["facts"]["reason"]
