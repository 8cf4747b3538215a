"""The rollout handlers, fed recorded events, with their AWS clients served by moto."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from guardrails import records
from guardrails.rollout import handlers
from guardrails.rollout.handlers import rollout_context
from guardrails.rollout.replay import _LOADED as replay_cache
from guardrails.rollout.state import EventError
from guardrails.services.errors import TransientError, transient_errors
from guardrails.services.stepfunctions import StepFunctionsSeam
from guardrails.validation import ConfigError
from tests.aws import LambdaContext
from tests.unit.rollout.doubles import ENDPOINT, LIVE_CONFIG, World, make_world

EVENTS = Path(__file__).resolve().parents[2] / "fixtures" / "events"
# A handler that fails before its work publishes no metric; Powertools warns about that.
pytestmark = pytest.mark.filterwarnings("ignore:No application metrics:UserWarning")


def recorded(name: str) -> dict:
    return json.loads((EVENTS / name).read_text())


@pytest.fixture
def world(monkeypatch):
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    with mock_aws():
        world = make_world(monkeypatch)
        for key, value in world.env.items():
            monkeypatch.setenv(key, value)
        rollout_context.cache_clear()
        yield world
    rollout_context.cache_clear()


def started(world: World) -> dict:
    event = recorded("rollout_start.json")
    event["request"]["model_package_arn"] = world.approved_package
    return handlers.start(event, LambdaContext())


def test_start_records_the_rollback_target_and_takes_the_lock(world):
    state = started(world)
    assert (state["deployment_id"], state["previous_config"]) == ("model-42-rollout", LIVE_CONFIG)
    record = records.get_deployment(world.table, "model-42-rollout")
    assert record.execution_arn.endswith(":model-42-rollout")
    assert records.current_lock(world.table, ENDPOINT)["started_by"] == (
        "codepipeline/guardrails-models"
    )


def test_deploy_and_judge_pass_the_state_along(world):
    state = handlers.deploy({"rollout": started(world)}, LambdaContext())
    assert state["baking_since"] and world.updates[0]["EndpointConfigName"] == state["new_config"]
    state = handlers.judge({"rollout": state}, LambdaContext())
    assert (state["action"], state["rounds"]) == ("wait", 1)


def test_the_failure_handler_protects_a_round_at_a_time_then_records_and_unlocks(world):
    handlers.deploy({"rollout": started(world)}, LambdaContext())
    first = handlers.record_failure(recorded("rollout_failed.json"), LambdaContext())
    assert first["settled"] is False and first["rounds"] == 1
    assert world.updates[-1]["EndpointConfigName"] == LIVE_CONFIG  # the rollback update
    # The state machine waits a minute and hands the round back.
    last = handlers.record_failure(first, LambdaContext())
    assert last["settled"] is True and last["rounds"] == 2
    assert last["summary"]["error"] == "SmokeTestFailed"
    assert "the sample request got no prediction back" in last["summary"]["cause"]
    assert records.get_deployment(world.table, "model-42-rollout").status == "FAILED"
    assert records.current_lock(world.table, ENDPOINT) is None


def test_a_timed_out_execution_gets_a_cleanup_execution(world, monkeypatch):
    handlers.deploy({"rollout": started(world)}, LambdaContext())
    started_executions = []
    monkeypatch.setattr(
        StepFunctionsSeam,
        "start_execution",
        lambda self, arn, name, payload: started_executions.append((arn, name, payload)) or name,
    )
    result = handlers.execution_ended(
        recorded("rollout_execution_timed_out.json"), LambdaContext()
    )
    assert result["action"] == "cleanup_started"
    ((arn, name, payload),) = started_executions
    assert arn.endswith(":stateMachine:RolloutStateMachine-AbC123")
    assert name.startswith("model-42-rollout-") and name.endswith("-cleanup")
    assert json.loads(payload) == {
        "cleanup": {
            "deployment_id": "model-42-rollout",
            "error": {"Error": "States.Timeout", "Cause": "the rollout execution ended TIMED_OUT"},
            "stuck": True,
        }
    }
    assert records.current_lock(world.table, ENDPOINT)["deployment_id"] == "model-42-rollout"


def test_an_execution_that_already_ended_its_record_needs_nothing(world):
    state = handlers.deploy({"rollout": started(world)}, LambdaContext())
    record = records.get_deployment(world.table, state["deployment_id"])
    records.update_deployment(world.table, record, status=records.STATUS_ROLLED_BACK)
    event = recorded("rollout_execution_timed_out.json")
    event["detail"]["status"] = "FAILED"  # its Fail state: RolledBack
    result = handlers.execution_ended(event, LambdaContext())
    assert result == {
        "deployment_id": "model-42-rollout",
        "action": "none",
        "note": "the rollout had already ended ROLLED_BACK",
    }
    assert [m["facts"]["kind"] for m in world.messages()] == ["started"]


def test_a_cleanup_that_ended_unfinished_gets_a_last_round_that_tells_on_call(world):
    handlers.deploy({"rollout": started(world)}, LambdaContext())
    event = recorded("rollout_execution_timed_out.json")
    event["detail"].update(
        status="ABORTED",
        name="model-42-rollout-0123abcd-cleanup",
        input=json.dumps({"cleanup": {"deployment_id": "model-42-rollout"}}),
    )
    result = handlers.execution_ended(event, LambdaContext())
    assert result["action"] == "protected"
    assert "ExecutionAborted" in result["note"]
    assert records.get_deployment(world.table, "model-42-rollout").status == "FAILED"
    assert world.messages()[-1]["facts"]["kind"] == "failed"


@pytest.mark.parametrize(
    ("handler", "event", "message"),
    [
        (handlers.judge, {}, "rollout: must be an object"),
        (handlers.finish, recorded("rollout_judge.json"), "expected: must be promote or rollback"),
        (handlers.record_failure, {"error": {}}, "deployment_id: required"),
        (handlers.record_failure, {"deployment_id": "d-1", "error": "x"}, "error: must be an"),
        (handlers.execution_ended, {"detail": {"status": "SUCCEEDED"}}, "detail.status"),
        (
            handlers.execution_ended,
            {"detail": {"status": "ABORTED", "name": "d-1"}},
            "detail.stateMachineArn: required",
        ),
    ],
)
def test_bad_events_fail_with_the_field_named(world, handler, event, message):
    with pytest.raises(EventError, match=message):
        handler(event, LambdaContext())


def test_a_missing_setting_is_named(world, monkeypatch):
    monkeypatch.delenv("TOPIC_ARN")
    rollout_context.cache_clear()
    with pytest.raises(ConfigError, match="TOPIC_ARN: required environment variable"):
        started(world)


def test_throttling_becomes_a_transient_error_for_step_functions():
    throttled = ClientError({"Error": {"Code": "ThrottlingException"}}, "DescribeEndpoint")
    with pytest.raises(TransientError), transient_errors():
        raise throttled
    denied = ClientError({"Error": {"Code": "AccessDeniedException"}}, "DescribeEndpoint")
    with pytest.raises(ClientError), transient_errors():
        raise denied


def test_only_a_recorded_failure_counts_as_a_failed_rollout(world, monkeypatch):
    """RolloutsFailed pages on-call: an ended execution's check or a no-op round must not."""
    counted: list[str] = []
    monkeypatch.setattr(handlers, "count", counted.append)
    state = handlers.deploy({"rollout": started(world)}, LambdaContext())
    record = records.get_deployment(world.table, state["deployment_id"])
    records.update_deployment(world.table, record, status=records.STATUS_ROLLED_BACK)
    event = recorded("rollout_execution_timed_out.json")
    event["detail"]["status"] = "FAILED"  # a rolled-back rollout's Fail state
    handlers.execution_ended(event, LambdaContext())
    handlers.record_failure(recorded("rollout_failed.json"), LambdaContext())
    assert counted[-2:] == ["EndedExecutionsFailed", "FailureRounds"]


@pytest.fixture
def empty_account(monkeypatch):
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    with mock_aws():
        world = make_world(monkeypatch, serving=False)
        for key, value in world.env.items():
            monkeypatch.setenv(key, value)
        rollout_context.cache_clear()
        yield world
    rollout_context.cache_clear()


def test_a_first_deploy_passes_through_the_handlers_and_is_recorded(empty_account):
    """Step Functions hands each step the JSON state: one without a rollback target parses."""
    world = empty_account
    state = started(world)
    assert (state["strategy"], state["previous_config"]) == ("first_deploy", "")
    state = handlers.deploy({"rollout": state}, LambdaContext())
    endpoint = world.ctx.sagemaker.describe_endpoint(ENDPOINT)  # moto: InService at once
    assert endpoint.config_name == state["new_config"]
    state = handlers.finish({"rollout": state, "expected": "promote"}, LambdaContext())
    assert state["result"] == "PROMOTED"
    serving = world.serving_model()
    assert (serving.model_package_arn, serving.endpoint_config) == (
        world.approved_package,
        endpoint.config_name,
    )
    assert world.scaling() is not None


def test_the_replay_sends_its_round_and_the_judge_records_it(world, monkeypatch):
    monkeypatch.setenv("TRAFFIC_SETTINGS", json.dumps({"replay_requests_per_minute": 2}))
    monkeypatch.setattr(time, "sleep", lambda seconds: None)  # the round's pacing
    rollout_context.cache_clear()
    handlers.replay_context.cache_clear()
    replay_cache.clear()
    state = handlers.deploy({"rollout": started(world)}, LambdaContext())

    round_ = handlers.replay({"rollout": state}, LambdaContext())
    assert (round_["planned"], round_["sent"], round_["answered"]) == (2, 2, 2)
    assert sum(tally["total"] for tally in round_["labelled"].values()) == 2
    # The state machine leaves the round in $.replay; the Judge records it with its verdict.
    judged = handlers.judge({"rollout": {**state, "replay": round_}}, LambdaContext())
    assert judged["rounds"] == 1 and "replay" not in judged
    (verdict,) = [
        d for d in records.list_decisions(world.table, "model-42-rollout")
        if d["decided_by"] == "judge"
    ]  # fmt: skip
    assert verdict["details"]["replay"] == round_
    handlers.replay_context.cache_clear()


def test_the_replay_tries_each_row_once(world):
    handlers.replay_context.cache_clear()
    runtime = handlers.replay_context().sagemaker._runtime
    assert runtime.meta.config.retries["total_max_attempts"] == 1
    smoke_test = handlers.rollout_context().sagemaker._runtime
    assert smoke_test.meta.config.retries["total_max_attempts"] > 1
    handlers.replay_context.cache_clear()


def test_a_replay_off_round_sends_nothing(world):
    handlers.replay_context.cache_clear()
    state = handlers.deploy({"rollout": started(world)}, LambdaContext())
    assert handlers.replay({"rollout": state}, LambdaContext())["planned"] == 0
    handlers.replay_context.cache_clear()
