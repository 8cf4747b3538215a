"""The rollout handlers, fed recorded events, with their AWS clients served by moto."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from guardrails import records
from guardrails.rollout import handlers
from guardrails.rollout.handlers import rollout_context
from guardrails.rollout.state import EventError
from guardrails.services.errors import TransientError, transient_errors
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


def test_the_failure_handler_records_protects_and_unlocks(world):
    handlers.deploy({"rollout": started(world)}, LambdaContext())
    summary = handlers.record_failure(recorded("rollout_failed.json"), LambdaContext())
    assert summary["error"] == "SmokeTestFailed"
    assert "the sample request got no prediction back" in summary["cause"]
    assert world.updates[-1]["EndpointConfigName"] == LIVE_CONFIG
    assert records.get_deployment(world.table, "model-42-rollout").status == "FAILED"
    assert records.current_lock(world.table, ENDPOINT) is None


def test_a_timed_out_execution_is_cleaned_up_as_stuck(world):
    handlers.deploy({"rollout": started(world)}, LambdaContext())
    summary = handlers.execution_ended(
        recorded("rollout_execution_timed_out.json"), LambdaContext()
    )
    assert summary["error"] == "States.Timeout"
    assert records.current_lock(world.table, ENDPOINT) is None
    assert world.messages()[-1]["facts"]["kind"] == "stuck"


def test_an_aborted_execution_leaves_the_endpoint_alone(world):
    state = handlers.deploy({"rollout": started(world)}, LambdaContext())
    event = recorded("rollout_execution_timed_out.json")
    event["detail"]["status"] = "ABORTED"
    handlers.execution_ended(event, LambdaContext())
    assert world.endpoint.endpoint_config_name == state["new_config"]
    assert "left as it is" in records.get_deployment(world.table, "model-42-rollout").reason


@pytest.mark.parametrize(
    ("handler", "event", "message"),
    [
        (handlers.judge, {}, "rollout: must be an object"),
        (handlers.finish, recorded("rollout_judge.json"), "expected: must be promote or rollback"),
        (handlers.record_failure, {"rollout": {}}, "deployment_id: required"),
        (handlers.execution_ended, {"detail": {"status": "SUCCEEDED"}}, "detail.status"),
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
