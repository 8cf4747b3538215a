"""The package-state Lambda against moto: console approvals, rejections, repeats."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID

from guardrails.release import handlers
from guardrails.rollout.endpoint_configs import MODEL_PACKAGE_TAG
from guardrails.services.stepfunctions import StepFunctionsSeam
from guardrails.services.sts import AssumedRole
from tests.aws import LambdaContext, create_deployment_table
from tests.released import RELEASED_BUCKET, create_released_bucket, register, release

# A handler that fails before its work publishes no metric; Powertools warns about that.
pytestmark = pytest.mark.filterwarnings("ignore:No application metrics:UserWarning")
EVENTS = Path(__file__).resolve().parents[2] / "fixtures" / "events"
# The pipeline host (registry, released artifacts, this function): moto's default account, the
# one the tests' own credentials are in; the fixture events name another, which deliver() fixes.
TOOLING = DEFAULT_ACCOUNT_ID
EVENT_ACCOUNT = "111111111111"
REGION = "us-east-1"
GROUP = "guardrails-dev"
PASS = json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}})
# Where staging and prod are: with the tooling account, or in accounts of their own.
LAYOUTS = {
    "one account": {"staging": TOOLING, "prod": TOOLING},
    "three accounts": {"staging": "222222222222", "prod": "333333333333"},
}


def role_arn(account: str, name: str) -> str:
    return f"arn:aws:iam::{account}:role/{name}"


def acting_as(role: str) -> AssumedRole:
    """Clients with moto's credentials for `role`: moto serves each account apart."""
    return AssumedRole(boto3.client("sts", region_name=REGION), role, "test-setup")


@dataclass
class World:
    layout: str
    sagemaker: object  # the tooling account's: the pipeline's packages
    s3: object
    sqs: object
    queue_url: str
    table: object
    deploy: dict[str, AssumedRole]  # each deploy environment's account, as its access role
    machines: dict[str, str]
    packages: list[str]

    def executions(self, name: str) -> list[dict]:
        stepfunctions = self.deploy[name].client("stepfunctions")
        listed = stepfunctions.list_executions(stateMachineArn=self.machines[name])
        return [
            json.loads(stepfunctions.describe_execution(executionArn=e["executionArn"])["input"])
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

    def serve(
        self, env: str, version: int, *, from_package: bool = False, sagemaker: object = None
    ) -> None:
        """Serve `version` on `env`'s endpoint, in its account, with a model as the rollout
        builds it (a released artifact, tagged with its package) or, `from_package`, as the
        endpoint stack does."""
        sagemaker = sagemaker or self.deploy[env].client("sagemaker")
        endpoint = f"guardrails-{env}"
        name = f"{endpoint}-v{version}"
        arn = self.packages[version - 1]
        if from_package:
            model = {"PrimaryContainer": {"ModelPackageName": arn}}
        else:
            model = {
                "PrimaryContainer": {"Image": "xgboost", "ModelDataUrl": "s3://released/m"},
                "Tags": [{"Key": MODEL_PACKAGE_TAG, "Value": arn}],
            }
        sagemaker.create_model(ModelName=name, ExecutionRoleArn=role_arn(TOOLING, "m"), **model)
        sagemaker.create_endpoint_config(
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
        sagemaker.create_endpoint(EndpointName=endpoint, EndpointConfigName=name)


@pytest.fixture(params=["three accounts"])
def world(request, monkeypatch) -> World:
    """Staging and prod in accounts of their own; `one account` where a test asks for it."""
    handlers._release.cache_clear()  # settings and seams are built once per container
    with mock_aws():
        sagemaker = boto3.client("sagemaker", region_name=REGION)
        sns = boto3.client("sns", region_name=REGION)
        sqs = boto3.client("sqs", region_name=REGION)
        table = create_deployment_table()
        s3 = boto3.client("s3", region_name=REGION)
        create_released_bucket(s3)
        access_roles = {
            env: role_arn(account, f"guardrails-{env}-release-access-us-east-1")
            for env, account in LAYOUTS[request.param].items()
        }
        deploy = {env: acting_as(role) for env, role in access_roles.items()}
        machines = {
            env: session.client("stepfunctions").create_state_machine(
                name=f"guardrails-{env}-rollout",
                definition=PASS,
                roleArn=role_arn(LAYOUTS[request.param][env], "stand-in"),
            )["stateMachineArn"]
            for env, session in deploy.items()
        }
        topic = sns.create_topic(Name="on-call")["TopicArn"]
        queue_url = sqs.create_queue(QueueName="on-call-inbox")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
        sagemaker.create_model_package_group(ModelPackageGroupName=GROUP)
        packages = [register(sagemaker, GROUP) for _ in range(3)]
        targets = [
            {
                "environment": env,
                "endpoint_name": f"guardrails-{env}",
                "state_machine_arn": arn,
                "access_role_arn": access_roles[env],
            }
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
        yield World(request.param, sagemaker, s3, sqs, queue_url, table, deploy, machines, packages)
    handlers._release.cache_clear()


def deliver(name: str) -> dict:
    text = (EVENTS / f"model_package_{name}.json").read_text()
    return handlers.package_state(json.loads(text.replace(EVENT_ACCOUNT, TOOLING)), LambdaContext())


@pytest.fixture
def prod_serves_v3_staging_serves_v2(world):
    for version in (1, 2, 3):
        world.release(version)
    world.serve("staging", 2)
    world.serve("prod", 3)
    world.set_status(3, "Rejected", "Biased against new customers, see ticket 4711")
    return world


@pytest.mark.parametrize("world", list(LAYOUTS), indirect=True)
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
                "started_by": f"rejection:arn:aws:sts::{TOOLING}:assumed-role/DataScience/bob",
                "reason": f"model package {world.packages[2]} was rejected",
            }
        ],
    }
    (message,) = world.messages()
    assert message["Subject"] == "Guardrails: rejected model, rolling back"
    assert f"serves in prod: rolling back to {world.packages[1]}" in message["Message"]


def test_only_what_serves_in_the_deploy_accounts_counts(world):
    """The function looks at each endpoint as its environment's access role, in its account.

    A same-named endpoint in the tooling account serving the rejected package is not prod's.
    """
    world.release(1)
    world.release(2)
    world.serve("prod", 2, sagemaker=world.sagemaker)  # guardrails-prod, but in the tooling account
    world.serve("prod", 1)
    world.set_status(2, "Rejected", "not good enough")
    assert deliver_version("rejected", 2)["action"] == "ignore"
    assert world.all_executions() == {"staging": [], "prod": []}
    world.set_status(1, "Rejected", "not good either")
    assert deliver_version("rejected", 1)["action"] == "alert"  # no released package is left
    (message,) = world.messages()
    assert "still serves in prod" in message["Message"]


def deliver_version(name: str, version: int) -> dict:
    """The fixture event `name`, about version `version` and changed now."""
    text = (EVENTS / f"model_package_{name}.json").read_text().replace(EVENT_ACCOUNT, TOOLING)
    event = json.loads(text.replace("guardrails-dev/3", f"guardrails-dev/{version}"))
    event["detail"]["LastModifiedTime"] = f"2026-11-21T16:4{version}:00Z"
    return handlers.package_state(event, LambdaContext())


def test_an_account_that_refuses_the_function_does_not_keep_the_others_serving(
    prod_serves_v3_staging_serves_v2, monkeypatch
):
    """Staging's access role refuses (missing, or its trust changed): prod is still rolled
    back, and on-call is told to look at staging by hand."""
    world = prod_serves_v3_staging_serves_v2
    staging_role = json.loads(os.environ["DEPLOY_TARGETS"])[0]["access_role_arn"]

    def assume(sts: object, role_arn: str, session_name: str) -> AssumedRole:
        if role_arn == staging_role:
            raise ClientError(
                {"Error": {"Code": "AccessDenied", "Message": "not authorized"}}, "AssumeRole"
            )
        return AssumedRole(sts, role_arn, session_name)

    monkeypatch.setattr(handlers, "AssumedRole", assume)
    result = deliver("rejected")
    assert result["action"] == "rollback"
    assert [e["model_package_arn"] for e in world.executions("prod")] == [world.packages[1]]
    assert (
        "could not check whether it serves in staging (An error occurred (AccessDenied)"
        in (result["reason"])
    )
    (message,) = world.messages()
    assert "guardrails status --env staging" in message["Message"]


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
    world.serve("prod", 3, from_package=True)  # the endpoint stack's first model
    world.set_status(3, "Rejected", "Biased")
    assert deliver("rejected")["action"] == "rollback"
    assert [e["model_package_arn"] for e in world.executions("prod")] == [world.packages[0]]


def test_with_nothing_approved_left_on_call_is_told_to_act(world):
    world.release(3)
    world.set_status(2, "Approved", "by console")
    world.serve("prod", 3)
    world.set_status(3, "Rejected", "Biased")
    assert deliver("rejected")["action"] == "alert"
    assert world.all_executions() == {"staging": [], "prod": []}
    (message,) = world.messages()
    assert message["Subject"] == "Guardrails: rejected model still serving, act now"


def test_rejecting_a_package_nobody_serves_changes_nothing(world):
    world.release(1)
    world.serve("prod", 1)
    world.set_status(3, "Rejected", "not good enough")
    assert deliver("rejected")["action"] == "ignore"
    assert world.all_executions() == {"staging": [], "prod": []}
    assert world.messages() == []


@pytest.mark.parametrize("world", list(LAYOUTS), indirect=True)
def test_a_console_approval_is_refused_and_on_call_told_how_to_release(world):
    world.set_status(3, "Approved", "Looks good on the holdout set")
    result = deliver("approved")
    assert result["action"] == "refuse"
    assert world.all_executions() == {"staging": [], "prod": []}
    (message,) = world.messages()
    assert message["Subject"] == "Guardrails: model approved outside the pipeline, not released"
    text = message["Message"]
    assert text.startswith(
        f"Not released (approved by arn:aws:sts::{TOOLING}:assumed-role/DataScience/alice): "
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
