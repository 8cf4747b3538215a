"""The deployed prod environment the CLI's AWS commands run against: moto plus two fakes.

moto lacks CloudFormation here (its extra is not installed) and SageMaker's UpdateEndpoint, so
those two operations are faked at botocore's call seam, parameters validated against the real
service model; every other call is served by moto (Step Functions included: its executions
stay RUNNING until a test ends them). StartExecution and StopExecution are recorded on their
way to moto, which keeps no stop cause.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import botocore.client
import botocore.loaders
import botocore.session
import pytest
from botocore.exceptions import ClientError
from botocore.validate import validate_parameters
from click.testing import CliRunner, Result
from moto import mock_aws
from moto.sns.models import sns_backends
from moto.stepfunctions.models import stepfunctions_backends

from guardrails import records
from guardrails.cli import cli
from tests.aws import REGION, create_deployment_table

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "cli"
CDK_JSON = FIXTURES / "cdk.json"  # every environment in moto's account, us-east-1
ACCOUNT = "123456789012"
ENDPOINT = "guardrails-prod"
PACKAGE_V1 = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model-package/guardrails-prod/1"
PACKAGE_V2 = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model-package/guardrails-prod/2"
FAKED = ("DescribeStacks", "UpdateEndpoint")
RECORDED = ("StartExecution", "StopExecution")


@dataclass
class World:
    """The deployed prod environment as moto and the two fakes hold it."""

    table: Any
    topic_arn: str
    state_machine_arn: str
    stacks: dict[str, dict[str, str]]
    updates: list[dict[str, Any]] = field(default_factory=list)
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def notifications(self) -> list[tuple[Any, ...]]:
        return sns_backends[ACCOUNT][REGION].topics[self.topic_arn].sent_notifications

    def execution(self, arn: str) -> Any:
        """moto's execution, for a test to end it as the real state machine would."""
        return stepfunctions_backends[ACCOUNT][REGION].describe_execution(arn)

    def called(self, operation: str) -> list[dict[str, Any]]:
        return [params for name, params in self.calls if name == operation]


def _fake_calls(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    original = botocore.client.BaseClient._make_api_call

    def make_api_call(self: Any, operation: str, params: dict[str, Any]) -> Any:
        if operation in FAKED:
            shape = self.meta.service_model.operation_model(operation).input_shape
            validate_parameters(params, shape)
        if operation in RECORDED:
            world.calls.append((operation, params))
        if operation == "DescribeStacks":
            name = params["StackName"]
            if name not in world.stacks:
                raise ClientError(
                    {
                        "Error": {
                            "Code": "ValidationError",
                            "Message": f"Stack with id {name} does not exist",
                        }
                    },
                    operation,
                )
            outputs = [{"OutputKey": k, "OutputValue": v} for k, v in world.stacks[name].items()]
            return {"Stacks": [{"StackName": name, "Outputs": outputs}]}
        if operation == "UpdateEndpoint":
            world.updates.append(params)
            return {"EndpointArn": f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:endpoint/{ENDPOINT}"}
        return original(self, operation, params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", make_api_call)


def _endpoint_on_v2() -> None:
    sagemaker = boto3.client("sagemaker", region_name=REGION)
    for version, package in (("1", PACKAGE_V1), ("2", PACKAGE_V2)):
        sagemaker.create_model(
            ModelName=f"model-v{version}",
            PrimaryContainer={"ModelPackageName": package},
            ExecutionRoleArn=f"arn:aws:iam::{ACCOUNT}:role/model",
        )
        sagemaker.create_endpoint_config(
            EndpointConfigName=f"config-v{version}",
            ProductionVariants=[
                {
                    "VariantName": "AllTraffic",
                    "ModelName": f"model-v{version}",
                    "InitialInstanceCount": 2,
                    "InstanceType": "ml.m5.large",
                }
            ],
        )
    sagemaker.create_endpoint(EndpointName=ENDPOINT, EndpointConfigName="config-v2")


def _rollout_state_machine() -> str:
    """A stand-in for the rollout state machine: moto only records its executions."""
    stepfunctions = boto3.client("stepfunctions", region_name=REGION)
    return stepfunctions.create_state_machine(
        name="RolloutStateMachine",
        definition='{"StartAt": "Start", "States": {"Start": {"Type": "Succeed"}}}',
        roleArn=f"arn:aws:iam::{ACCOUNT}:role/rollout",
    )["stateMachineArn"]


def a_rollout(deployment_id: str, **overrides: str) -> records.DeploymentRecord:
    values = dict(
        deployment_id=deployment_id,
        endpoint_name=ENDPOINT,
        environment="prod",
        model_package_arn=PACKAGE_V2,
        previous_endpoint_config="config-v1",
        new_endpoint_config="config-v2",
        strategy="linear",
        started_by="pipeline",
        started_at="2026-11-20T10:00:00.000000Z",
    )
    return records.DeploymentRecord(**{**values, **overrides})


# Each CLI run opens a new boto3 session; one shared loader keeps the service models parsed once.
_LOADER = botocore.loaders.create_loader()
_SESSION = boto3.Session


def _session(botocore_session: Any = None, **kwargs: Any) -> boto3.Session:
    core = botocore_session or botocore.session.get_session()
    core.register_component("data_loader", _LOADER)
    return _SESSION(botocore_session=core, **kwargs)


@pytest.fixture
def world(monkeypatch):
    monkeypatch.setattr(boto3, "Session", _session)
    with mock_aws():
        table = create_deployment_table()
        topic_arn = boto3.client("sns", region_name=REGION).create_topic(Name="on-call")["TopicArn"]
        _endpoint_on_v2()
        state_machine_arn = _rollout_state_machine()
        stacks = {
            "Guardrails-prod-Stateful": {
                "DeploymentTableName": table.name,
                "OnCallTopicArn": topic_arn,
                "ArtifactBucketName": "artifacts",
                "ModelPackageGroupName": "guardrails-prod",
            },
            "Guardrails-prod-Endpoint": {"EndpointName": ENDPOINT},
            "Guardrails-prod-Rollout": {"StateMachineArn": state_machine_arn},
        }
        state = World(
            table=table, topic_arn=topic_arn, state_machine_arn=state_machine_arn, stacks=stacks
        )
        _fake_calls(state, monkeypatch)
        yield state


@pytest.fixture
def promoted(world):
    """One finished rollout (v1 -> v2) with two judge decisions."""
    record = a_rollout("d-1")
    records.put_deployment(world.table, record)
    records.update_deployment(world.table, record, status=records.STATUS_PROMOTED)
    for decision, reason in (("continue", "waiting for min_samples"), ("promote", "non-inferior")):
        records.add_decision(
            world.table, deployment_id="d-1", decision=decision, reason=reason, decided_by="judge"
        )
    return record


def run(*args: str, config: Path | None = CDK_JSON, input: str | None = None) -> Result:
    """The CLI with the fixture cdk.json (config=None: no --config, the directory search)."""
    options = ["--config", str(config)] if config is not None else []
    return CliRunner().invoke(cli, [*options, *args], input=input)


def only_line(text: str) -> str:
    lines = text.strip().splitlines()
    assert len(lines) == 1, text
    return lines[0]
