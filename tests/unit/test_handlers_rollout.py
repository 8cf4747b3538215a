"""The rollout handlers, fed recorded events, with their AWS clients served by moto."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from guardrails import records
from guardrails.handlers import deploy, execution_ended, failed, finish, judge, start
from guardrails.handlers.rollout_common import rollout_context, transient_errors
from guardrails.rollout.state import EventError, TransientError
from guardrails.settings import SettingsError
from tests.unit.rollout_doubles import ENDPOINT, LIVE_CONFIG, World, make_world

EVENTS = Path(__file__).resolve().parents[1] / "fixtures" / "events"
# A handler that fails before its work publishes no metric; Powertools warns about that.
pytestmark = pytest.mark.filterwarnings("ignore:No application metrics:UserWarning")


class LambdaContext:
    function_name = "rollout-step"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:rollout-step"
    aws_request_id = "5b1a0c8e-8e1f-4c7e-9a55-0d3c1b2a4f6e"


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
    return start.handler(event, LambdaContext())


def test_start_records_the_rollback_target_and_takes_the_lock(world):
    state = started(world)
    assert (state["deployment_id"], state["previous_config"]) == ("model-42-rollout", LIVE_CONFIG)
    record = records.get_deployment(world.table, "model-42-rollout")
    assert record.execution_arn.endswith(":model-42-rollout")
    assert records.current_lock(world.table, ENDPOINT)["started_by"] == (
        "codepipeline/guardrails-models"
    )


def test_deploy_and_judge_pass_the_state_along(world):
    state = deploy.handler({"rollout": started(world)}, LambdaContext())
    assert state["baking_since"] and world.updates[0]["EndpointConfigName"] == state["new_config"]
    state = judge.handler({"rollout": state}, LambdaContext())
    assert (state["action"], state["rounds"]) == ("wait", 1)


def test_the_failure_handler_records_protects_and_unlocks(world):
    deploy.handler({"rollout": started(world)}, LambdaContext())
    summary = failed.handler(recorded("rollout_failed.json"), LambdaContext())
    assert summary["error"] == "SmokeTestFailed"
    assert "the sample request got no prediction back" in summary["cause"]
    assert world.updates[-1]["EndpointConfigName"] == LIVE_CONFIG
    assert records.get_deployment(world.table, "model-42-rollout").status == "FAILED"
    assert records.current_lock(world.table, ENDPOINT) is None


def test_a_timed_out_execution_is_cleaned_up_as_stuck(world):
    deploy.handler({"rollout": started(world)}, LambdaContext())
    summary = execution_ended.handler(recorded("rollout_execution_timed_out.json"), LambdaContext())
    assert summary["error"] == "States.Timeout"
    assert records.current_lock(world.table, ENDPOINT) is None
    assert world.messages()[-1]["facts"]["kind"] == "stuck"


def test_an_aborted_execution_leaves_the_endpoint_alone(world):
    state = deploy.handler({"rollout": started(world)}, LambdaContext())
    event = recorded("rollout_execution_timed_out.json")
    event["detail"]["status"] = "ABORTED"
    execution_ended.handler(event, LambdaContext())
    assert world.endpoint.endpoint_config_name == state["new_config"]
    assert "left as it is" in records.get_deployment(world.table, "model-42-rollout").reason


@pytest.mark.parametrize(
    ("handler", "event", "message"),
    [
        (judge.handler, {}, "rollout: must be an object"),
        (finish.handler, recorded("rollout_judge.json"), "expected: must be promote or rollback"),
        (failed.handler, {"rollout": {}}, "deployment_id: required"),
        (execution_ended.handler, {"detail": {"status": "SUCCEEDED"}}, "detail.status"),
    ],
)
def test_bad_events_fail_with_the_field_named(world, handler, event, message):
    with pytest.raises(EventError, match=message):
        handler(event, LambdaContext())


def test_a_missing_setting_is_named(world, monkeypatch):
    monkeypatch.delenv("TOPIC_ARN")
    rollout_context.cache_clear()
    with pytest.raises(SettingsError, match="TOPIC_ARN: required environment variable"):
        started(world)


def test_throttling_becomes_a_transient_error_for_step_functions():
    throttled = ClientError({"Error": {"Code": "ThrottlingException"}}, "DescribeEndpoint")
    with pytest.raises(TransientError), transient_errors():
        raise throttled
    denied = ClientError({"Error": {"Code": "AccessDeniedException"}}, "DescribeEndpoint")
    with pytest.raises(ClientError), transient_errors():
        raise denied
