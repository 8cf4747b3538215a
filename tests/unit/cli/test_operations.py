"""`guardrails status`, `history` and `rollback` against moto.

moto lacks CloudFormation here (its extra is not installed) and SageMaker's UpdateEndpoint, so
those two operations are faked at botocore's call seam, parameters validated against the real
service model; every other call is served by moto.
"""

from __future__ import annotations

import json
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
from click.testing import CliRunner
from moto import mock_aws
from moto.sagemaker.models import sagemaker_backends
from moto.sns.models import sns_backends

from guardrails import records
from guardrails.cli import cli
from tests.aws import REGION, create_deployment_table, hold_lock

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "cli"
CDK_JSON = FIXTURES / "cdk.json"  # every environment in moto's account, us-east-1
ACCOUNT = "123456789012"
ENDPOINT = "guardrails-prod"
PACKAGE_V1 = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model-package/guardrails-prod/1"
PACKAGE_V2 = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model-package/guardrails-prod/2"


@dataclass
class World:
    """The deployed prod environment as moto and the two fakes hold it."""

    table: Any
    topic_arn: str
    stacks: dict[str, dict[str, str]]
    updates: list[dict[str, Any]] = field(default_factory=list)

    def notifications(self) -> list[tuple[Any, ...]]:
        return sns_backends[ACCOUNT][REGION].topics[self.topic_arn].sent_notifications


def _fake_calls(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    original = botocore.client.BaseClient._make_api_call

    def make_api_call(self: Any, operation: str, params: dict[str, Any]) -> Any:
        if operation in ("DescribeStacks", "UpdateEndpoint"):
            shape = self.meta.service_model.operation_model(operation).input_shape
            validate_parameters(params, shape)
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
        stacks = {
            "Guardrails-prod-Stateful": {
                "DeploymentTableName": table.name,
                "OnCallTopicArn": topic_arn,
                "ArtifactBucketName": "artifacts",
                "ModelPackageGroupName": "guardrails-prod",
            },
            "Guardrails-prod-Endpoint": {"EndpointName": ENDPOINT},
        }
        state = World(table=table, topic_arn=topic_arn, stacks=stacks)
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


def run(*args: str, config: Path = CDK_JSON, input: str | None = None):
    return CliRunner().invoke(cli, ["--config", str(config), *args], input=input)


def only_line(text: str) -> str:
    lines = text.strip().splitlines()
    assert len(lines) == 1, text
    return lines[0]


# --------------------------------------------------------------------------- status


def test_status_shows_endpoint_config_model_package_and_last_decisions(world, promoted):
    result = run("status", "--env", "prod")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert f"Environment        prod (account {ACCOUNT}, {REGION})" in out
    assert f"{ENDPOINT}: InService" in out
    assert "Endpoint config    config-v2" in out
    assert f"Model package      {PACKAGE_V2}" in out
    assert "Variants           AllTraffic: 2 instances" in out
    assert "Rollout in flight  none" in out
    assert "Last rollout       d-1 PROMOTED (linear)" in out
    decisions = out.split("Latest decisions of d-1 (newest first):", 1)[1]
    assert decisions.index("non-inferior") < decisions.index("waiting for min_samples")


def test_status_shows_the_rollout_in_flight_and_who_holds_the_lock(world, promoted):
    records.put_deployment(
        world.table,
        a_rollout(
            "d-2",
            previous_endpoint_config="config-v2",
            new_endpoint_config="config-v3",
            started_at="2026-11-21T09:00:00.000000Z",
            status=records.STATUS_BAKING,
        ),
    )
    hold_lock(world.table, ENDPOINT, "d-2")
    records.add_decision(
        world.table,
        deployment_id="d-2",
        decision="continue",
        reason="inconclusive",
        decided_by="judge",
    )
    result = run("status", "--env", "prod")
    assert result.exit_code == 0, result.output
    assert "Rollout in flight  d-2 BAKING (linear)" in result.stdout
    assert "lock held by d-2" in result.stdout
    assert "Latest decisions of d-2" in result.stdout
    assert "inconclusive" in result.stdout


def test_status_notes_an_endpoint_that_disagrees_with_its_record(world):
    record = a_rollout("d-1", new_endpoint_config="config-v3")
    records.put_deployment(world.table, record)
    records.update_deployment(world.table, record, status=records.STATUS_PROMOTED)
    result = run("status", "--env", "prod")
    assert (
        "Note: the endpoint serves config-v2, but rollout d-1 (PROMOTED) left it on config-v3"
        in (result.stdout)
    )


def test_status_of_a_failed_endpoint_exits_1(world, promoted):
    endpoint = sagemaker_backends[ACCOUNT][REGION].endpoints[ENDPOINT]
    endpoint.endpoint_status = "Failed"
    result = run("status", "--env", "prod")
    assert result.exit_code == 1
    assert f"Endpoint           {ENDPOINT}: Failed" in result.stdout


def test_status_json_carries_the_same_facts(world, promoted):
    result = run("status", "--env", "prod", "--json")
    assert result.exit_code == 0, result.output
    facts = json.loads(result.stdout)
    assert facts["endpoint"]["config"] == "config-v2"
    assert facts["endpoint"]["model_packages"] == [PACKAGE_V2]
    assert facts["latest"]["deployment_id"] == "d-1"
    assert [d["decision"] for d in facts["decisions"]] == ["promote", "continue"]


def test_status_of_a_missing_endpoint_is_one_line_and_exit_1(world):
    world.stacks["Guardrails-prod-Endpoint"]["EndpointName"] = "guardrails-gone"
    result = run("status", "--env", "prod")
    assert result.exit_code == 1
    assert only_line(result.stderr) == (
        f"Error: endpoint guardrails-gone: not found in {REGION} (account {ACCOUNT})"
    )


def test_status_of_an_undeployed_environment_says_so(world):
    del world.stacks["Guardrails-prod-Stateful"]
    result = run("status", "--env", "prod")
    assert result.exit_code == 1
    assert only_line(result.stderr) == (
        f"Error: stack Guardrails-prod-Stateful: not deployed in {REGION} (run cdk deploy)"
    )


def test_unknown_environment_is_bad_usage(world):
    result = run("status", "--env", "qa")
    assert result.exit_code == 2
    assert only_line(result.stderr) == (
        "Error: env: unknown environment 'qa' (known: dev, staging, prod)"
    )


def test_credentials_for_another_account_are_refused(world):
    shipped = Path(__file__).resolve().parents[3] / "cdk.json"  # placeholder account 111111111111
    result = run("history", "--env", "prod", config=shipped)
    assert result.exit_code == 1
    assert only_line(result.stderr) == (
        "Error: environments.prod.account: is 111111111111, but the credentials are for "
        f"account {ACCOUNT} (pick another --profile)"
    )


def test_no_credentials_is_one_clear_line(monkeypatch, tmp_path):
    for name in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_SECURITY_TOKEN",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    result = run("status", "--env", "prod")
    assert result.exit_code == 1
    assert only_line(result.stderr).startswith("Error: no AWS credentials found")


def test_unknown_profile_is_bad_usage(world):
    result = CliRunner().invoke(
        cli, ["--config", str(CDK_JSON), "--profile", "nope", "status", "--env", "prod"]
    )
    assert result.exit_code == 2
    assert only_line(result.stderr).startswith("Error: --profile: ")


# --------------------------------------------------------------------------- history


def test_history_lists_rollouts_newest_first(world, promoted):
    record = a_rollout(
        "d-2",
        previous_endpoint_config="config-v2",
        new_endpoint_config="config-v3",
        started_at="2026-11-21T09:00:00.000000Z",
    )
    records.put_deployment(world.table, record)
    records.update_deployment(
        world.table, record, status=records.STATUS_ROLLED_BACK, reason="error_rate regressed"
    )
    result = run("history", "--env", "prod")
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().splitlines()
    assert lines[0].split() == [
        "started", "(UTC)", "rollout", "status", "strategy",
        "model", "package", "configs", "by", "reason",
    ]  # fmt: skip
    assert lines[1].split()[:5] == ["2026-11-21", "09:00:00Z", "d-2", "ROLLED_BACK", "linear"]
    assert "config-v2 -> config-v3" in lines[1] and lines[1].endswith("error_rate regressed")
    assert lines[2].split()[2:4] == ["d-1", "PROMOTED"]
    assert "guardrails-prod/2" in lines[2]


def test_history_json_and_limit(world, promoted):
    records.put_deployment(world.table, a_rollout("d-2", started_at="2026-11-21T09:00:00.000000Z"))
    result = run("history", "--env", "prod", "--limit", "1", "--json")
    assert [r["deployment_id"] for r in json.loads(result.stdout)] == ["d-2"]


def test_history_without_rollouts_says_so(world):
    result = run("history", "--env", "prod")
    assert result.exit_code == 0
    assert result.stdout.strip() == f"No rollouts recorded for {ENDPOINT} (prod)."


# --------------------------------------------------------------------------- rollback


def test_rollback_returns_to_the_recorded_previous_config_and_tells_on_call(world, promoted):
    result = run("rollback", "--env", "prod", "--yes", "--reason", "p99 latency doubled")
    assert result.exit_code == 0, result.output
    assert world.updates == [
        {
            "EndpointName": ENDPOINT,
            "EndpointConfigName": "config-v1",
            "RetainDeploymentConfig": False,
            "RetainAllVariantProperties": True,
            "ExcludeRetainedVariantProperties": [
                {"VariantPropertyType": "DesiredWeight"},
                {"VariantPropertyType": "DataCaptureConfig"},
            ],
        }
    ]
    assert "Rollback target: config-v1 (recorded by rollout d-1)." in result.stdout
    assert "rollback from config-v2 to config-v1 started" in result.stdout
    decision = records.list_decisions(world.table, "d-1")[0]
    assert decision["decision"] == "rollback"
    assert decision["reason"] == "p99 latency doubled"
    assert decision["decided_by"] == f"cli:arn:aws:sts::{ACCOUNT}:user/moto"
    assert records.get_deployment(world.table, "d-1").status == records.STATUS_ROLLED_BACK
    [(_, text, _, _, _)] = world.notifications()
    assert "p99 latency doubled" in text


def test_rollback_to_a_named_config(world, promoted):
    sagemaker = boto3.client("sagemaker", region_name=REGION)
    sagemaker.create_endpoint_config(
        EndpointConfigName="config-v0",
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": "model-v1",
                "InitialInstanceCount": 2,
                "InstanceType": "ml.m5.large",
            }
        ],
    )
    result = run("rollback", "--env", "prod", "--to", "config-v0", "--yes")
    assert result.exit_code == 0, result.output
    assert [u["EndpointConfigName"] for u in world.updates] == ["config-v0"]


def test_rollback_asks_first_and_does_nothing_when_declined(world, promoted):
    result = run("rollback", "--env", "prod", input="n\n")
    assert result.exit_code == 1
    assert f"Roll {ENDPOINT} back to config-v1? [y/N]" in result.stdout
    assert world.updates == []
    assert records.list_decisions(world.table, "d-1")[0]["decision"] == "promote"


def test_rollback_goes_ahead_when_confirmed(world, promoted):
    result = run("rollback", "--env", "prod", input="y\n")
    assert result.exit_code == 0, result.output
    assert [u["EndpointConfigName"] for u in world.updates] == ["config-v1"]


def test_rollback_refuses_while_a_rollout_holds_the_lock(world, promoted):
    hold_lock(world.table, ENDPOINT, "d-2")
    result = run("rollback", "--env", "prod", "--yes")
    assert result.exit_code == 1
    assert only_line(result.stderr) == (
        f"Error: refused: rollout d-2 (started by ci) holds the lock on {ENDPOINT}; "
        "wait for it or use --force"
    )
    assert world.updates == []


def test_rollback_force_overrides_the_lock(world, promoted):
    hold_lock(world.table, ENDPOINT, "d-2")
    result = run("rollback", "--env", "prod", "--yes", "--force")
    assert result.exit_code == 0, result.output
    assert [u["EndpointConfigName"] for u in world.updates] == ["config-v1"]


def test_rollback_refuses_a_target_that_does_not_exist(world, promoted):
    result = run("rollback", "--env", "prod", "--to", "config-v9", "--yes")
    assert result.exit_code == 1
    assert only_line(result.stderr) == (
        f"Error: refused: endpoint config config-v9 does not exist in {REGION}"
    )
    assert world.updates == []


def test_rollback_without_a_record_needs_a_target(world):
    result = run("rollback", "--env", "prod", "--yes")
    assert result.exit_code == 1
    assert only_line(result.stderr) == (
        f"Error: endpoint {ENDPOINT} has no rollout on record: name the config with --to"
    )


def test_rollback_to_what_already_serves_is_a_no_op(world, promoted):
    result = run("rollback", "--env", "prod", "--to", "config-v2", "--yes")
    assert result.exit_code == 0, result.output
    assert world.updates == []
    assert "already serves config-v2: nothing to roll back" in result.stdout


def test_rollback_of_a_missing_endpoint_is_one_line(world, promoted):
    world.stacks["Guardrails-prod-Endpoint"]["EndpointName"] = "guardrails-gone"
    result = run("rollback", "--env", "prod", "--yes")
    assert result.exit_code == 1
    assert only_line(result.stderr).startswith("Error: endpoint guardrails-gone: not found")


def test_rollback_waits_for_an_endpoint_that_is_still_updating(world, promoted):
    sagemaker_backends[ACCOUNT][REGION].endpoints[ENDPOINT].endpoint_status = "Updating"
    result = run("rollback", "--env", "prod", "--yes")
    assert result.exit_code == 1
    assert only_line(result.stderr).startswith(
        f"Error: refused: endpoint {ENDPOINT} is Updating on config-v2; "
        "roll back once it is InService"
    )
    assert world.updates == []


def test_rollback_needs_a_reason(world, promoted):
    result = run("rollback", "--env", "prod", "--yes", "--reason", " ")
    assert result.exit_code == 2
    assert only_line(result.stderr) == "Error: --reason: say why the endpoint is rolled back"
    assert world.updates == []
