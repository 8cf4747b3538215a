"""Whole rollouts, step by step as the state machine runs them, against moto."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from guardrails import records
from guardrails.judge import evaluate
from guardrails.rollout import ending, steps
from guardrails.rollout.context import LockLost
from guardrails.rollout.metrics import VERDICT_METRIC, VERDICT_NAMESPACE
from guardrails.rollout.rollback import EndpointBusy
from guardrails.rollout.state import (
    FailureReport,
    FailureRound,
    RolloutRefused,
    RolloutState,
    StartRequest,
)
from tests.unit.rollout.doubles import ENDPOINT, LIVE_CONFIG, VARIANT, World, make_world

PRODUCTION = {"EndpointName": ENDPOINT, "VariantName": VARIANT}


def start(world: World, deployment_id: str = "d-1", **overrides) -> RolloutState:
    request = StartRequest(
        deployment_id=deployment_id,
        execution_arn=f"arn:aws:states:us-east-1:123456789012:execution:rollout:{deployment_id}",
        model_package_arn=overrides.get("package", world.approved_package),
        started_by="pipeline",
        reason="weekly retrain",
    )
    return steps.start(request, world.ctx)


def verdicts(world: World) -> list[float]:
    response = world.cloudwatch.get_metric_statistics(
        Namespace=VERDICT_NAMESPACE,
        MetricName=VERDICT_METRIC,
        Dimensions=[{"Name": "EndpointName", "Value": ENDPOINT}],
        StartTime=world.start - timedelta(hours=1),
        EndTime=world.clock.now + timedelta(hours=1),
        Period=60,
        Statistics=["Maximum"],
    )
    return [point["Maximum"] for point in response["Datapoints"]]


def blue_green_traffic(world: World, state: RolloutState, minutes: range, green_errors: int):
    """Blue 900 requests a minute with 1 error; green 100 with `green_errors`."""
    green = {**PRODUCTION, "EndpointConfigName": state.new_config}
    for minute in minutes:
        world.publish(PRODUCTION, minute=minute, requests=1000, errors=1 + green_errors)
        world.publish(green, minute=minute, requests=100, errors=green_errors)


def test_a_regression_is_rolled_back_to_the_recorded_config(aws, monkeypatch):
    world = make_world(monkeypatch, strategy="canary")
    state = start(world)
    world.update_mode = "pending"  # SageMaker's canary is still in progress
    state = steps.deploy(state, world.ctx)
    blue_green_traffic(world, state, range(5), green_errors=10)
    world.clock.advance(5 * 60)

    state = steps.judge(state, world.ctx)
    assert (state.action, state.outcome) == ("rollback", "rollback")
    assert "error_rate_5xx: regression" in state.note
    assert verdicts(world) == [1.0]  # the VerdictAlarm makes SageMaker roll back

    with pytest.raises(EndpointBusy, match="SageMaker rolls its update back"):
        ending.rollback(state, world.ctx)  # still updating: Step Functions retries later
    world.sagemaker_rolls_back()
    state = ending.rollback(state, world.ctx)
    assert len(world.updates) == 1  # SageMaker did it: no second UpdateEndpoint
    state = ending.finish(state, "rollback", world.ctx)

    assert state.result == "ROLLED_BACK"
    assert world.endpoint.endpoint_config_name == LIVE_CONFIG
    record = records.get_deployment(world.table, "d-1")
    assert (record.status, record.previous_endpoint_config) == ("ROLLED_BACK", LIVE_CONFIG)
    assert records.current_lock(world.table, ENDPOINT) is None
    judged = [d for d in records.list_decisions(world.table, "d-1") if d["decided_by"] == "judge"]
    stored = judged[0]["details"]["request"]  # per minute: the record replays the verdict
    canary = [m["canary"] for m in stored["metrics"][0]["minutes"]]
    assert canary == [{"events": 10, "trials": 100}] * 5
    assert evaluate(stored) == judged[0]["details"]["response"]
    started, rolled_back = world.messages()
    assert started["facts"]["kind"] == "started"
    assert rolled_back["subject"] == "[Guardrails test] Rollout rolled back: guardrails-test"
    assert "error_rate_5xx" in rolled_back["text"] and "0.1 " in rolled_back["text"]
    assert "console.aws.amazon.com/sagemaker" in rolled_back["text"]
    assert rolled_back["facts"]["metrics"][0]["canary"] == pytest.approx(0.1)


def test_a_late_verdict_after_sagemaker_finished_still_restores_the_target(aws, monkeypatch):
    world = make_world(monkeypatch, strategy="linear")
    state = steps.deploy(start(world), world.ctx)  # SageMaker completes the update at once
    blue_green_traffic(world, state, range(5), green_errors=10)
    world.clock.advance(5 * 60)

    state = steps.judge(state, world.ctx)
    with pytest.raises(EndpointBusy, match="rollback from .* to live-config started"):
        ending.rollback(state, world.ctx)  # Step Functions looks again in a minute
    assert world.updates[-1] == {
        "EndpointName": ENDPOINT,
        "EndpointConfigName": LIVE_CONFIG,
        "RetainDeploymentConfig": False,  # no alarms: they must not undo the rollback
        "RetainAllVariantProperties": True,  # nor shrink the fleet autoscaling grew
        "ExcludeRetainedVariantProperties": [
            {"VariantPropertyType": "DesiredWeight"},
            {"VariantPropertyType": "DataCaptureConfig"},
        ],
    }
    state = ending.rollback(state, world.ctx)
    assert ending.finish(state, "rollback", world.ctx).result == "ROLLED_BACK"


def test_missing_metrics_never_promote_and_end_as_stuck(aws, monkeypatch):
    world = make_world(monkeypatch, strategy="canary")
    state = steps.deploy(start(world), world.ctx)  # InService on the new config, no traffic
    actions = []
    while state.action != "rollback":
        world.clock.advance(600)
        state = steps.judge(state, world.ctx)
        actions.append(state.action)
    assert set(actions[:-1]) == {"wait"} and len(actions) == 6  # max bake 3600 s
    assert "undecided after 3600 s" in state.note
    decisions = records.list_decisions(world.table, "d-1")
    assert "promote" not in {d["decision"] for d in decisions}
    assert [m["facts"]["kind"] for m in world.messages()] == ["started", "stuck"]


def test_an_ab_rollout_shifts_weights_step_by_step_then_promotes(aws, monkeypatch):
    world = make_world(
        monkeypatch,
        strategy="ab",
        deployment={"ab_weight_steps": (5, 25, 50, 100), "wait_interval_seconds": 60},
        judge={"bake_time_seconds": 180},
    )
    state = steps.deploy(start(world), world.ctx)
    assert world.endpoint.endpoint_config_name == state.trial_config
    weights = []
    for minute in range(30):
        world.publish(PRODUCTION, minute=minute, requests=20000, errors=20, latency_ms=50)
        candidate = {"EndpointName": ENDPOINT, "VariantName": state.candidate_variant}
        world.publish(candidate, minute=minute, requests=5000, errors=5, latency_ms=50)
        world.clock.advance(60)
        state = steps.judge(state, world.ctx)
        if state.action == "advance":
            state = steps.shift(state, world.ctx)
            weights.append(world.ctx.sagemaker.describe_endpoint(ENDPOINT).weights)
        if state.action == "complete":
            break
    assert [w[state.candidate_variant] for w in weights] == [25.0, 50.0]
    state = ending.smoke_test(steps.shift(state, world.ctx), world.ctx)
    final_update = world.updates[-1]
    assert final_update["EndpointConfigName"] == state.new_config
    routing = final_update["DeploymentConfig"]["BlueGreenUpdatePolicy"]
    assert routing["TrafficRoutingConfiguration"]["Type"] == "ALL_AT_ONCE"
    state = ending.finish(state, "promote", world.ctx)
    assert state.result == "PROMOTED"
    assert records.get_deployment(world.table, "d-1").status == "PROMOTED"
    assert [m["facts"]["kind"] for m in world.messages()] == ["started", "promoted"]


def test_a_shadow_regression_removes_the_shadow(aws, monkeypatch):
    world = make_world(monkeypatch, strategy="shadow")
    state = steps.deploy(start(world), world.ctx)
    assert "DeploymentConfig" not in world.updates[0]  # alarms watch the old model only
    shadow = {"EndpointName": ENDPOINT, "VariantName": state.candidate_variant}
    for minute in range(5):
        world.publish(PRODUCTION, minute=minute, requests=1000, latency_ms=50)
        world.publish(shadow, minute=minute, requests=1000, latency_ms=900)
    world.clock.advance(300)
    state = steps.judge(state, world.ctx)
    assert state.action == "rollback" and "model_latency_ms" in state.note
    with pytest.raises(EndpointBusy):
        ending.rollback(state, world.ctx)  # the rollback update started
    state = ending.finish(ending.rollback(state, world.ctx), "rollback", world.ctx)
    assert world.updates[-1]["EndpointConfigName"] == LIVE_CONFIG
    assert state.result == "ROLLED_BACK"


def test_a_second_rollout_is_refused_while_one_runs(aws, monkeypatch):
    world = make_world(monkeypatch)
    start(world, "d-1")
    with pytest.raises(RolloutRefused, match="locked by rollout d-1 started by pipeline"):
        start(world, "d-2")
    assert records.current_lock(world.table, ENDPOINT)["deployment_id"] == "d-1"
    with pytest.raises(records.RecordNotFoundError):
        records.get_deployment(world.table, "d-2")


def test_only_approved_packages_and_in_service_endpoints_start(aws, monkeypatch):
    world = make_world(monkeypatch)
    with pytest.raises(RolloutRefused, match="is PendingManualApproval: only Approved"):
        start(world, package=world.pending_package)
    world.endpoint.endpoint_status = "Updating"
    with pytest.raises(RolloutRefused, match="starts only from InService"):
        start(world)
    assert records.current_lock(world.table, ENDPOINT) is None


def test_a_retried_start_and_deploy_do_not_repeat_themselves(aws, monkeypatch):
    world = make_world(monkeypatch)
    first = start(world)
    assert start(world) == first
    state = steps.deploy(first, world.ctx)
    assert steps.deploy(state, world.ctx) == state
    assert len(world.updates) == 1


def test_a_firing_rollback_alarm_stops_the_deploy(aws, monkeypatch):
    world = make_world(monkeypatch)
    state = start(world)
    world.cloudwatch.set_alarm_state(
        AlarmName="guardrails-test-errors", StateValue="ALARM", StateReason="test"
    )
    with pytest.raises(Exception, match="rollback alarms in ALARM: guardrails-test-errors"):
        steps.deploy(state, world.ctx)
    assert world.updates == []


def failure_rounds(world: World, report: FailureReport) -> FailureRound:
    """RecordFailure a minute apart until it settles, as the state machine loops on it."""
    for _ in range(10):
        round_ = ending.record_failure(report, world.ctx)
        if round_.settled:
            return round_
        world.clock.advance(60)
        report = FailureReport.parse(round_.to_event())
    raise AssertionError("never settled")


def test_a_failure_rolls_the_candidate_back_unlocks_and_tells_on_call(aws, monkeypatch):
    world = make_world(monkeypatch)
    state = steps.deploy(start(world), world.ctx)  # the candidate serves
    error = {"Error": "SmokeTestFailed", "Cause": '{"errorMessage": "no prediction"}'}
    report = FailureReport(deployment_id="d-1", error=error, state=state.to_event())

    first = ending.record_failure(report, world.ctx)
    assert not first.settled and "rollback from" in first.cause
    assert records.get_deployment(world.table, "d-1").status == "FAILING"
    assert records.current_lock(world.table, ENDPOINT)["deployment_id"] == "d-1"

    summary = failure_rounds(world, FailureReport.parse(first.to_event()))
    assert summary.error == "SmokeTestFailed"
    assert world.updates[-1]["EndpointConfigName"] == LIVE_CONFIG
    record = records.get_deployment(world.table, "d-1")
    assert record.status == "FAILED" and "no prediction" in record.reason
    assert f"endpoint serves the recorded config {LIVE_CONFIG}" in record.reason
    assert records.current_lock(world.table, ENDPOINT) is None
    failed = world.messages()[-1]
    assert failed["facts"]["kind"] == "failed"


def test_a_failure_the_endpoint_cannot_recover_from_keeps_the_lock_and_says_so(aws, monkeypatch):
    world = make_world(monkeypatch)
    state = steps.deploy(start(world), world.ctx)
    world.endpoint.endpoint_status = "Failed"
    error = {"Error": "Lambda.Unknown", "Cause": "boom"}
    summary = failure_rounds(
        world, FailureReport(deployment_id="d-1", error=error, state=state.to_event())
    )
    assert "the endpoint is NOT verified on the recorded config live-config" in summary.cause
    assert "the lock stays with this rollout until" in summary.cause
    assert records.current_lock(world.table, ENDPOINT)["deployment_id"] == "d-1"
    assert records.get_deployment(world.table, "d-1").status == "FAILED"
    (failed,) = [m for m in world.messages() if m["facts"]["kind"] == "failed"]
    assert "NOT verified" in failed["text"]


def test_a_retried_failure_round_tells_on_call_once(aws, monkeypatch):
    world = make_world(monkeypatch)
    state = start(world)  # nothing deployed yet: the endpoint serves the recorded config
    report = FailureReport(
        deployment_id="d-1", error={"Error": "States.TaskFailed"}, state=state.to_event()
    )
    assert ending.record_failure(report, world.ctx).settled
    ending.record_failure(report, world.ctx)  # Step Functions retried the step
    kinds = [m["facts"]["kind"] for m in world.messages()]
    assert kinds == ["started", "failed"]


def test_a_refused_start_does_not_release_the_other_rollouts_lock(aws, monkeypatch):
    world = make_world(monkeypatch)
    start(world, "d-1")
    error = {"Error": "RolloutRefused", "Cause": '{"errorMessage": "rollout refused: locked"}'}
    ending.record_failure(
        FailureReport(
            deployment_id="d-2",
            error=error,
            state={"model_package_arn": world.approved_package},
        ),
        world.ctx,
    )
    assert records.current_lock(world.table, ENDPOINT)["deployment_id"] == "d-1"
    assert records.get_deployment(world.table, "d-1").status == "STARTED"
    assert world.updates == []
    refused = world.messages()[-1]
    assert refused["facts"]["model_package_arn"] == world.approved_package


def test_a_successful_update_that_left_the_old_config_is_reported(aws, monkeypatch):
    world = make_world(monkeypatch)
    state = steps.deploy(start(world), world.ctx)
    world.serve(LIVE_CONFIG)  # e.g. SageMaker rolled back after the judge promoted
    state = ending.finish(state.with_changes(outcome="promote"), "promote", world.ctx)
    assert state.result == "FAILED"
    assert f"should serve {state.new_config}, but it is InService on {LIVE_CONFIG}" in state.note
    assert records.get_deployment(world.table, "d-1").status == "FAILED"
    assert world.messages()[-1]["facts"]["kind"] == "failed"


def test_a_retried_start_tells_on_call_once(aws, monkeypatch):
    world = make_world(monkeypatch)
    start(world)
    start(world)  # Step Functions retried it after a timeout
    assert [m["facts"]["kind"] for m in world.messages()] == ["started"]


def test_every_step_renews_the_lock_and_stops_when_it_lost_it(aws, monkeypatch):
    world = make_world(monkeypatch)
    state = start(world)
    lease = records.current_lock(world.table, ENDPOINT)["lease_until"]
    world.clock.advance(600)
    state = steps.deploy(state, world.ctx)
    assert records.current_lock(world.table, ENDPOINT)["lease_until"] == lease + 600
    records.unlock(world.table, endpoint_name=ENDPOINT, holder="d-1", decided_by="op", reason="x")
    with pytest.raises(LockLost, match=r"no longer this rollout's \(released\): the rollout"):
        steps.judge(state, world.ctx)


def test_a_stale_lock_is_taken_over_on_both_records(aws, monkeypatch):
    world = make_world(monkeypatch)
    start(world, "d-1")  # its execution died before it deployed anything
    world.clock.advance(world.ctx.lock_lease_seconds - 1)
    with pytest.raises(RolloutRefused, match="locked by rollout d-1"):
        start(world, "d-2")
    world.clock.advance(2)
    state = start(world, "d-2")
    assert records.current_lock(world.table, ENDPOINT)["deployment_id"] == "d-2"
    assert state.previous_config == LIVE_CONFIG
    decisions = {d["decision"] for d in records.list_decisions(world.table, "d-2")}
    assert {"start", "lock_takeover"} <= decisions
    assert records.list_decisions(world.table, "d-1")[0]["decision"] == "lock_taken_over"
    old = records.get_deployment(world.table, "d-1")
    assert old.status == "FAILED" and "rollout d-2 took it over" in old.reason
    started = world.messages()[-1]
    assert started["facts"]["deployment_id"] == "d-2"
    assert "took over the expired lock of rollout d-1" in started["facts"]["reason"]


def test_a_rollout_never_starts_from_an_unpromoted_candidate(aws, monkeypatch):
    world = make_world(monkeypatch)
    stale = steps.deploy(start(world, "d-1"), world.ctx)  # the candidate serves; then it died
    world.clock.advance(world.ctx.lock_lease_seconds + 1)
    with pytest.raises(RolloutRefused) as refused:
        start(world, "d-2")
    assert str(refused.value) == (
        f"endpoint {ENDPOINT} serves {stale.new_config}, the candidate of rollout d-1 (BAKING), "
        f"which the judge never promoted: roll it back to {LIVE_CONFIG} first (guardrails rollback)"
    )
    assert records.current_lock(world.table, ENDPOINT)["deployment_id"] == "d-1"  # untouched


def test_the_new_fleet_starts_at_the_serving_fleets_size(aws, monkeypatch):
    world = make_world(monkeypatch, endpoint={"max_capacity": 4})
    original = world.ctx.sagemaker.describe_endpoint

    def scaled_out(name):
        view = original(name)
        return replace(view, instance_counts={VARIANT: 6})  # beyond max_capacity

    monkeypatch.setattr(world.ctx.sagemaker, "describe_endpoint", scaled_out)
    state = steps.deploy(start(world), world.ctx)
    config = world.sagemaker.describe_endpoint_config(EndpointConfigName=state.new_config)
    assert config["ProductionVariants"][0]["InitialInstanceCount"] == 4  # within the bounds
    deploy = [d for d in records.list_decisions(world.table, "d-1") if d["decision"] == "deploy"]
    assert deploy[0]["details"]["instance_count"] == 4


def test_a_failed_rollout_whose_lock_was_taken_over_leaves_the_endpoint_alone(aws, monkeypatch):
    world = make_world(monkeypatch)
    state = start(world, "d-1")
    world.clock.advance(world.ctx.lock_lease_seconds + 1)
    start(world, "d-2")  # d-1's execution had died; d-2 took its expired lock over
    records.update_deployment(
        world.table, records.get_deployment(world.table, "d-1"), status="BAKING"
    )
    report = FailureReport(deployment_id="d-1", error={"Error": "LockLost"}, state=state.to_event())
    summary = ending.record_failure(report, world.ctx)
    assert summary.settled
    assert "the lock is held by rollout d-2: the endpoint is left to it" in summary.cause
    assert "NOT verified" not in summary.cause
    assert records.current_lock(world.table, ENDPOINT)["deployment_id"] == "d-2"
    assert world.updates == []
