"""The package-state Lambda against moto: console approvals, rejections, repeats."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from guardrails.release import handlers
from guardrails.rollout.endpoint_configs import MODEL_PACKAGE_TAG
from guardrails.services.stepfunctions import StepFunctionsSeam
from tests.aws import LambdaContext, create_deployment_table
from tests.released import RELEASED_BUCKET, create_released_bucket, register, release

# A handler that fails before its work publishes no metric; Powertools warns about that.
pytestmark = pytest.mark.filterwarnings("ignore:No application metrics:UserWarning")
EVENTS = Path(__file__).resolve().parents[2] / "fixtures" / "events"
ACCOUNT = "111111111111"
REGION = "us-east-1"
GROUP = "guardrails-dev"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/stand-in"
PASS = json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}})


@dataclass
class World:
    sagemaker: object
    s3: object
    stepfunctions: object
    sqs: object
    queue_url: str
    table: object
    machines: dict[str, str]
    packages: list[str]

    def executions(self, name: str) -> list[dict]:
        listed = self.stepfunctions.list_executions(stateMachineArn=self.machines[name])
        return [
            json.loads(
                self.stepfunctions.describe_execution(executionArn=e["executionArn"])["input"]
            )
            for e in listed["executions"]
        ]

    def all_executions(self) -> dict[str, list[dict]]:
        return {name: self.executions(name) for name in self.machines}

    def messages(self) -> list[dict]:
        received = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10)
        return [json.loads(m["Body"]) for m in received.get("Messages", [])]

    def set_status(self, version: int, status: str, description: str) -> None:
        self.sagemaker.update_model_package(
            ModelPackageArn=self.packages[version - 1],
            ModelApprovalStatus=status,
            ApprovalDescription=description,
        )

    def release(self, version: int) -> None:
        """Approve `version` as the approval step does: released, recorded, Approved."""
        release(self.sagemaker, self.s3, self.packages[version - 1])

    def serve(self, endpoint: str, version: int, *, from_package: bool = False) -> None:
        """Serve `version` on `endpoint` with a model as the rollout builds it (a released
        artifact, tagged with its package) or, `from_package`, as the endpoint stack does."""
        name = f"{endpoint}-v{version}"
        arn = self.packages[version - 1]
        if from_package:
            model = {"PrimaryContainer": {"ModelPackageName": arn}}
        else:
            model = {
                "PrimaryContainer": {"Image": "xgboost", "ModelDataUrl": "s3://released/m"},
                "Tags": [{"Key": MODEL_PACKAGE_TAG, "Value": arn}],
            }
        self.sagemaker.create_model(ModelName=name, ExecutionRoleArn=ROLE, **model)
        self.sagemaker.create_endpoint_config(
            EndpointConfigName=name,
            ProductionVariants=[
                {
                    "VariantName": "AllTraffic",
                    "ModelName": name,
                    "InstanceType": "ml.m5.large",
                    "InitialInstanceCount": 1,
                }
            ],
        )
        self.sagemaker.create_endpoint(EndpointName=endpoint, EndpointConfigName=name)


@pytest.fixture
def world(monkeypatch) -> World:
    monkeypatch.setenv("MOTO_ACCOUNT_ID", ACCOUNT)
    handlers._release.cache_clear()  # settings and seams are built once per container
    with mock_aws():
        sagemaker = boto3.client("sagemaker", region_name=REGION)
        stepfunctions = boto3.client("stepfunctions", region_name=REGION)
        sns = boto3.client("sns", region_name=REGION)
        sqs = boto3.client("sqs", region_name=REGION)
        table = create_deployment_table()
        machines = {
            name: stepfunctions.create_state_machine(name=name, definition=PASS, roleArn=ROLE)[
                "stateMachineArn"
            ]
            for name in ("staging", "prod")
        }
        s3 = boto3.client("s3", region_name=REGION)
        create_released_bucket(s3)
        topic = sns.create_topic(Name="on-call")["TopicArn"]
        queue_url = sqs.create_queue(QueueName="on-call-inbox")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
        sagemaker.create_model_package_group(ModelPackageGroupName=GROUP)
        packages = [register(sagemaker, GROUP) for _ in range(3)]
        targets = [
            {"environment": env, "endpoint_name": f"guardrails-{env}", "state_machine_arn": arn}
            for env, arn in machines.items()
        ]
        for name, value in {
            "MODEL_PACKAGE_GROUP_NAME": GROUP,
            "DEPLOYMENT_TABLE_NAME": table.name,
            "ON_CALL_TOPIC_ARN": topic,
            "DEPLOY_TARGETS": json.dumps(targets),
            "RELEASED_BUCKET": RELEASED_BUCKET,
        }.items():
            monkeypatch.setenv(name, value)
        yield World(sagemaker, s3, stepfunctions, sqs, queue_url, table, machines, packages)
    handlers._release.cache_clear()


def deliver(name: str) -> dict:
    event = json.loads((EVENTS / f"model_package_{name}.json").read_text())
    return handlers.package_state(event, LambdaContext())


@pytest.fixture
def prod_serves_v3_staging_serves_v2(world):
    for version in (1, 2, 3):
        world.release(version)
    world.serve("guardrails-staging", 2)
    world.serve("guardrails-prod", 3)
    world.set_status(3, "Rejected", "Biased against new customers, see ticket 4711")
    return world


def test_rejecting_the_serving_package_rolls_prod_back_to_the_last_approved(
    prod_serves_v3_staging_serves_v2,
):
    world = prod_serves_v3_staging_serves_v2
    result = deliver("rejected")
    assert result["action"] == "rollback"
    assert world.all_executions() == {
        "staging": [],
        "prod": [
            {
                "model_package_arn": world.packages[1],
                "started_by": "rejection:arn:aws:sts::111111111111:assumed-role/DataScience/bob",
                "reason": f"model package {world.packages[2]} was rejected",
            }
        ],
    }
    (message,) = world.messages()
    assert message["Subject"] == "Guardrails: rejected model, rolling back"
    assert f"serves in prod: rolling back to {world.packages[1]}" in message["Message"]


def test_a_repeated_rejection_event_rolls_back_once(prod_serves_v3_staging_serves_v2):
    world = prod_serves_v3_staging_serves_v2
    first = deliver("rejected")
    assert deliver("rejected") == first  # the recorded answer, nothing done again
    assert len(world.executions("prod")) == 1
    assert len(world.messages()) == 1
    (record,) = world.table.scan()["Items"]
    assert record["pk"].startswith("idempotency#") and record["status"] == "COMPLETED"
    assert json.loads(record["data"])["action"] == "rollback"
    assert record["expires_at"] > 0  # the table's TTL forgets the change after 90 days


def test_the_rollback_target_is_the_newest_package_the_approval_step_released(world):
    """A newer package approved in the console is not released, so it is no target either."""
    world.release(1)
    world.set_status(2, "Approved", "by console")
    world.release(3)
    world.serve("guardrails-prod", 3, from_package=True)  # the endpoint stack's first model
    world.set_status(3, "Rejected", "Biased")
    assert deliver("rejected")["action"] == "rollback"
    assert [e["model_package_arn"] for e in world.executions("prod")] == [world.packages[0]]


def test_with_nothing_approved_left_on_call_is_told_to_act(world):
    world.release(3)
    world.set_status(2, "Approved", "by console")
    world.serve("guardrails-prod", 3)
    world.set_status(3, "Rejected", "Biased")
    assert deliver("rejected")["action"] == "alert"
    assert world.all_executions() == {"staging": [], "prod": []}
    (message,) = world.messages()
    assert message["Subject"] == "Guardrails: rejected model still serving, act now"


def test_rejecting_a_package_nobody_serves_changes_nothing(world):
    world.release(1)
    world.serve("guardrails-prod", 1)
    world.set_status(3, "Rejected", "not good enough")
    assert deliver("rejected")["action"] == "ignore"
    assert world.all_executions() == {"staging": [], "prod": []}
    assert world.messages() == []


def test_a_console_approval_is_refused_and_on_call_told_how_to_release(world):
    world.set_status(3, "Approved", "Looks good on the holdout set")
    result = deliver("approved")
    assert result["action"] == "refuse"
    assert world.all_executions() == {"staging": [], "prod": []}
    (message,) = world.messages()
    assert message["Subject"] == "Guardrails: model approved outside the pipeline, not released"
    text = message["Message"]
    assert text.startswith(
        "Not released (approved by arn:aws:sts::111111111111:assumed-role/DataScience/alice): "
        f"model package {world.packages[2]} was approved outside the pipeline's approval step"
    )
    assert "approving it in the model pipeline's Approve stage" in text


def test_a_pipeline_approval_is_left_to_the_pipelines_deploy_stages(world):
    world.release(3)
    assert deliver("approved")["action"] == "ignore"
    assert world.all_executions() == {"staging": [], "prod": []}
    assert world.messages() == []


def test_a_stale_approval_of_a_since_rejected_package_deploys_nothing(world):
    world.set_status(3, "Rejected", "changed my mind")
    assert deliver("approved")["action"] == "ignore"
    assert world.messages() == []


def test_a_failed_attempt_leaves_the_change_for_the_retry(
    prod_serves_v3_staging_serves_v2, monkeypatch
):
    world = prod_serves_v3_staging_serves_v2
    real_start = StepFunctionsSeam.start_execution

    def unavailable(*args, **kwargs):
        raise RuntimeError("Step Functions unavailable")

    monkeypatch.setattr(StepFunctionsSeam, "start_execution", unavailable)
    with pytest.raises(RuntimeError):
        deliver("rejected")
    monkeypatch.setattr(StepFunctionsSeam, "start_execution", real_start)
    assert deliver("rejected")["action"] == "rollback"
    assert len(world.executions("prod")) == 1


def test_an_unusable_event_is_logged_and_ignored(world):
    result = handlers.package_state({"detail-type": "Something else"}, LambdaContext())
    assert result["action"] == "ignore"
    assert "detail-type" in result["reason"]
