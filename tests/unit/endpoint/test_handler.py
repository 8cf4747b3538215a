"""The reconciler's handler over moto: the four cases of a `cdk deploy`, deletes, bad input."""

from __future__ import annotations

import json
from dataclasses import asdict, replace

import boto3
import pytest
from moto import mock_aws

from guardrails import records
from guardrails.endpoint import handler, reconcile
from guardrails.endpoint.handler import ReconcileContext, ReconcileRequest, reconcile_endpoint
from guardrails.rollout.serving import NO_MODEL, ServingModel
from guardrails.rollout.settings import EndpointSettings
from guardrails.rollout.state import EventError
from guardrails.services.stepfunctions import StepFunctionsSeam
from tests.aws import REGION, LambdaContext, hold_lock
from tests.unit.rollout.doubles import ENDPOINT, LIVE_CONFIG, World, make_world

SHAPE = EndpointSettings()
BIGGER = replace(SHAPE, instance_type="ml.c5.xlarge")
pytestmark = pytest.mark.filterwarnings("ignore:No application metrics:UserWarning")


@pytest.fixture
def aws(monkeypatch):
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    with mock_aws():
        yield


def context(world: World) -> ReconcileContext:
    stepfunctions = boto3.client("stepfunctions", region_name=REGION)
    arn = stepfunctions.create_state_machine(
        name="guardrails-test-rollout",
        definition=json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}),
        roleArn="arn:aws:iam::123456789012:role/states",
    )["stateMachineArn"]
    return ReconcileContext(
        environment="test",
        region=REGION,
        state_machine_arn=arn,
        sagemaker=world.ctx.sagemaker,
        autoscaling=world.ctx.autoscaling,
        stepfunctions=StepFunctionsSeam(stepfunctions),
        notifier=world.ctx.notifier,
        table=world.table,
        clock=world.clock,
    )


def event(
    world: World,
    *,
    request_type: str = "Update",
    shape: EndpointSettings = SHAPE,
    serving: ServingModel | None = None,
    production: bool = False,
    request_id: str = "request-1",
) -> dict:
    serving = serving or world.serving_model()
    return {
        "RequestType": request_type,
        "RequestId": request_id,
        "ResourceProperties": {
            "ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:framework",
            "EndpointName": ENDPOINT,
            "Production": "true" if production else "false",
            "ServingModel": serving.to_json(),
            "EndpointSettings": json.dumps(asdict(shape)),
        },
    }


def run(world: World, ctx: ReconcileContext, **changes) -> reconcile.Decision:
    return reconcile_endpoint(ReconcileRequest.parse(event(world, **changes)), ctx)


def executions(ctx: ReconcileContext) -> list[dict]:
    client = boto3.client("stepfunctions", region_name=REGION)
    found = client.list_executions(stateMachineArn=ctx.state_machine_arn)["executions"]
    return [client.describe_execution(executionArn=e["executionArn"]) for e in found]


def test_no_model_yet_creates_nothing(aws, monkeypatch):
    world = make_world(monkeypatch, serving=False)
    ctx = context(world)

    decision = run(world, ctx, serving=NO_MODEL)

    assert decision.action == reconcile.NOTHING
    assert ctx.sagemaker.find_endpoint(ENDPOINT) is None
    assert executions(ctx) == [] and world.messages() == []


def test_the_serving_model_in_its_shape_is_left_as_it_is(aws, monkeypatch):
    world = make_world(monkeypatch)
    ctx = context(world)

    assert run(world, ctx).action == reconcile.NOTHING
    assert executions(ctx) == [] and world.messages() == []


def test_a_shape_change_starts_the_rollout_of_the_serving_package_once(aws, monkeypatch):
    world = make_world(monkeypatch)
    ctx = context(world)

    decision = run(world, ctx, shape=BIGGER)
    again = run(world, ctx, shape=BIGGER)  # CloudFormation retried the same request

    assert decision.action == again.action == reconcile.RESHAPE
    (execution,) = executions(ctx)
    given = json.loads(execution["input"])
    assert given["model_package_arn"] == world.approved_package
    assert given["endpoint"] == asdict(BIGGER)
    assert given["reason"].startswith("cdk deploy: the endpoint shape changed (instance type")
    assert execution["name"] in decision.reason
    # The endpoint itself is not touched: the rollout changes it, judged.
    assert ctx.sagemaker.describe_endpoint(ENDPOINT).config_name == LIVE_CONFIG


def test_a_deploy_during_a_rollout_is_a_recorded_no_op(aws, monkeypatch):
    world = make_world(monkeypatch)
    ctx = context(world)
    hold_lock(world.table, ENDPOINT, "d-7")

    decision = run(world, ctx, shape=BIGGER)
    # A refused update would fail the stack, and CloudFormation's rollback would call again
    # with the old properties: that call is the same no-op, not an error.
    rollback = run(world, ctx, shape=SHAPE, request_id="request-2")

    assert decision.action == rollback.action == reconcile.LEFT_TO_ROLLOUT
    assert executions(ctx) == []
    left = [
        d for d in records.list_decisions(world.table, "d-7") if d["decision"] == "deploy_left"
    ]
    assert len(left) == 2 and left[0]["decided_by"] == "cloudformation"
    messages = world.messages()
    assert [m["facts"]["kind"] for m in messages] == ["deploy_left", "deploy_left"]
    assert messages[0]["subject"].startswith("[Guardrails test] cdk deploy left the endpoint")
    assert "rollout d-7 holds the lock" in messages[0]["text"]


def test_an_endpoint_rolled_back_outside_a_rollout_is_held_and_told(aws, monkeypatch):
    world = make_world(monkeypatch)
    ctx = context(world)
    elsewhere = replace(world.serving_model(), endpoint_config="some-newer-config")

    decision = run(world, ctx, serving=elsewhere, shape=BIGGER)

    assert decision.action == reconcile.HELD
    assert executions(ctx) == []
    assert "not the serving model's some-newer-config" in world.messages()[0]["text"]


def test_deleting_a_non_production_stack_deletes_its_endpoint(aws, monkeypatch):
    world = make_world(monkeypatch)
    ctx = context(world)

    decision = run(world, ctx, request_type="Delete")

    assert decision.action == reconcile.REMOVE
    assert ctx.sagemaker.find_endpoint(ENDPOINT) is None
    assert world.scaling() is None


def test_deleting_the_production_stack_keeps_the_endpoint(aws, monkeypatch):
    world = make_world(monkeypatch)
    ctx = context(world)

    decision = run(world, ctx, request_type="Delete", production=True)

    assert decision.action == reconcile.KEEP
    assert ctx.sagemaker.describe_endpoint(ENDPOINT).config_name == LIVE_CONFIG
    assert world.scaling() is not None


@pytest.mark.parametrize(
    ("properties", "message"),
    [
        ({"ServingModel": "not json"}, "ResourceProperties.ServingModel: must be a JSON object"),
        (
            {"ServingModel": json.dumps({"model": "x"})},
            "ResourceProperties.ServingModel.model: unknown field",
        ),
        (
            {"EndpointSettings": json.dumps({"instance_type": "big"})},
            "ResourceProperties.EndpointSettings.instance_type: must look like ml.m5.large",
        ),
        ({"Production": "yes"}, "ResourceProperties.Production: must be true or false"),
        ({"EndpointName": ""}, "ResourceProperties.EndpointName: required"),
    ],
)
def test_bad_properties_fail_with_one_line_naming_the_field(properties, message):
    raw = {
        "RequestType": "Update",
        "ResourceProperties": {
            "EndpointName": ENDPOINT,
            "Production": "false",
            "ServingModel": NO_MODEL.to_json(),
            "EndpointSettings": json.dumps(asdict(SHAPE)),
            **properties,
        },
    }
    with pytest.raises(EventError) as raised:
        ReconcileRequest.parse(raw)
    assert str(raised.value).startswith(message)
    assert "\n" not in str(raised.value)


def test_a_delete_reads_neither_the_serving_model_nor_the_shape():
    raw = {
        "RequestType": "Delete",
        "ResourceProperties": {"EndpointName": ENDPOINT, "Production": "false"},
    }
    assert ReconcileRequest.parse(raw).serving is None


def test_the_handler_keeps_one_physical_id_and_reports_the_decision(aws, monkeypatch):
    world = make_world(monkeypatch)
    ctx = context(world)
    monkeypatch.setattr(handler, "reconcile_context", lambda: ctx)

    created = handler.on_event(event(world, request_type="Create"), LambdaContext())
    updated = handler.on_event(event(world, shape=BIGGER), LambdaContext())

    assert created["PhysicalResourceId"] == updated["PhysicalResourceId"] == ENDPOINT
    assert created["Data"]["Action"] == "nothing"
    assert updated["Data"]["Action"] == "reshape"


def test_a_reshape_before_the_rollout_stack_exists_is_held_and_told(aws, monkeypatch):
    world = make_world(monkeypatch)
    ctx = replace(
        context(world),
        state_machine_arn="arn:aws:states:us-east-1:123456789012:stateMachine:missing",
    )

    decision = run(world, ctx, shape=BIGGER)

    assert decision.action == reconcile.HELD
    assert "does not exist yet: deploy the rollout stack" in world.messages()[0]["text"]
