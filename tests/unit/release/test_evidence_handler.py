"""The Evidence Lambda before prod: staging's rollout read in staging's account, sent to approvers.

moto serves STS, Step Functions (really running a one-state definition that returns what the
Finish step returns) and SNS; CodePipeline's job calls are faked (pipeline_jobs.py).
"""

from __future__ import annotations

import json
import time
from typing import Any

import boto3
import pytest
from moto import mock_aws

from guardrails.config import rollout_state_machine_name
from guardrails.release import handlers
from guardrails.release.evidence import collect
from guardrails.release.evidence_message import SUMMARY_LIMIT
from guardrails.services.sts import AssumedRole
from tests.aws import Inbox, LambdaContext
from tests.unit.release.pipeline_jobs import FakeCodePipeline, faked_codepipeline, job_event
from tests.unit.release.test_evidence import judge_round, replayed

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics:UserWarning")
TOOLING, STAGING = "123456789012", "222222222222"  # moto's default account is the tooling one
REGION = "us-east-1"
ACCESS_ROLE = f"arn:aws:iam::{STAGING}:role/guardrails-staging-release-access-{REGION}"
STATE_MACHINE = f"arn:aws:states:{REGION}:{STAGING}:stateMachine:" + rollout_state_machine_name(
    "staging"
)
PACKAGE = f"arn:aws:sagemaker:{REGION}:{TOOLING}:model-package/guardrails-dev/7"


class Staging:
    """Staging's account as the evidence function reaches it: its rollout executions."""

    def __init__(self) -> None:
        sts = boto3.client("sts", region_name=REGION)
        self.stepfunctions = AssumedRole(sts, ACCESS_ROLE, "test-setup").client("stepfunctions")
        self._count = 0

    def ended_rollout(self, state: dict[str, Any], name: str = "") -> str:
        """An execution whose last state ends as `state` says (Pass: output, Fail: failed)."""
        self._count += 1
        name = name or rollout_state_machine_name("staging")
        arn = self.stepfunctions.create_state_machine(
            name=name if self._count == 1 else f"{name}-{self._count}",
            definition=json.dumps({"StartAt": "End", "States": {"End": state}}),
            roleArn=f"arn:aws:iam::{STAGING}:role/rollout",
        )["stateMachineArn"]
        execution = self.stepfunctions.start_execution(
            stateMachineArn=arn, name=f"pipeline-staging-{self._count}", input="{}"
        )["executionArn"]
        for _ in range(100):
            if self.stepfunctions.describe_execution(executionArn=execution)["status"] != "RUNNING":
                break
            time.sleep(0.05)
        return execution

    def promoted(self, output: dict[str, Any]) -> str:
        return self.ended_rollout({"Type": "Pass", "Result": output, "End": True})


def finish_output(package: str = PACKAGE, result: str = "PROMOTED") -> dict[str, Any]:
    """What FinishPromotion returns: the final state with the rollout's evidence."""
    evidence = collect(
        [judge_round("2026-11-27T10:05:00+00:00", replay=replayed(120, failed=1))],
        deployment_id="pipeline-staging-1",
        model_package_arn=package,
        result=result,
        reason="the judge promoted",
        judge_rounds=5,
    )
    return {"result": result, "evidence": evidence.to_event()}


@pytest.fixture
def aws(monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    execute = {"stepfunctions": {"execute_state_machine": True}}
    with mock_aws(config=execute), faked_codepipeline(monkeypatch) as fake:
        fake.stage, fake.action = "Approve-prod", "Evidence"
        approvers = Inbox.create("approvers")
        monkeypatch.setenv("APPROVERS_TOPIC_ARN", approvers.topic_arn)
        monkeypatch.setenv(
            "EVIDENCE_SOURCE",
            json.dumps(
                {
                    "environment": "staging",
                    "approves": "prod",
                    "state_machine_arn": STATE_MACHINE,
                    "access_role_arn": ACCESS_ROLE,
                }
            ),
        )
        yield Staging(), fake, approvers.messages


def invoke(execution_arn: str, package: str = PACKAGE) -> dict[str, Any]:
    event = job_event(model_package_arn=package, execution_arn=execution_arn)
    return handlers.evidence(event, LambdaContext())


def test_staging_evidence_goes_to_the_approvers_and_its_summary_to_the_approval(aws):
    staging, fake, inbox = aws
    execution = staging.promoted(finish_output())
    result = invoke(execution)
    assert result["status"] == "sent"
    ((message,),) = [inbox()]
    assert message["Subject"] == "[Guardrails] Approve prod? staging: PROMOTED, version 7"
    text = message["Message"]
    assert "error_rate    0.01      0.005  1000/800" in text
    (totals,) = [line.split() for line in text.splitlines() if line.startswith("total,")]
    assert totals == ["total,", "1", "rounds", "120", "119", "1", "0", "0"]
    assert "guardrails history --env staging" in text
    ((operation, params),) = fake.results
    assert operation == "PutJobSuccessResult"
    variables = params["outputVariables"]
    assert variables["DEPLOYMENT_ID"] == "pipeline-staging-1"
    assert variables["SUMMARY"].startswith("staging PROMOTED (deployment pipeline-staging-1)")
    assert len(variables["SUMMARY"]) <= SUMMARY_LIMIT
    assert variables["EXECUTION_LINK"].startswith(
        f"https://{REGION}.console.aws.amazon.com/states/home"
    )


def test_a_rolled_back_staging_rollout_is_no_evidence(aws):
    """The pipeline stops at the staging stage anyway; a stray job still refuses."""
    staging, fake, inbox = aws
    execution = staging.ended_rollout(
        {"Type": "Fail", "Error": "RolledBack", "Cause": "error_rate worse"}
    )
    fake.assert_refused(invoke(execution), "is FAILED, not SUCCEEDED")
    assert inbox() == []


def test_a_rollout_that_returned_no_evidence_is_refused(aws):
    staging, fake, inbox = aws
    execution = staging.promoted({"result": "PROMOTED"})
    fake.assert_refused(invoke(execution), "predates the approval before prod")
    assert inbox() == []


def test_evidence_of_another_package_is_refused(aws):
    staging, fake, inbox = aws
    other = PACKAGE.replace("/7", "/6")
    execution = staging.promoted(finish_output(package=other))
    fake.assert_refused(invoke(execution), f"rolled out {other}, not this pipeline's {PACKAGE}")
    assert inbox() == []


def test_an_execution_of_another_state_machine_is_refused(aws):
    staging, fake, inbox = aws
    staging.promoted(finish_output())  # the rollout itself
    elsewhere = staging.ended_rollout(
        {"Type": "Pass", "Result": finish_output(), "End": True}, name="someone-elses"
    )
    fake.assert_refused(invoke(elsewhere), "is not a rollout of staging")
    assert inbox() == []


def test_a_missing_setting_fails_the_job_naming_it(aws, monkeypatch):
    staging, fake, inbox = aws
    monkeypatch.delenv("EVIDENCE_SOURCE")
    fake.assert_refused(invoke(staging.promoted(finish_output())), "EVIDENCE_SOURCE")


def test_only_staging_is_read_as_its_access_role(aws):
    """The execution exists only in staging's account: read as the tooling account, it is not
    found, so the evidence was read through the access role."""
    staging, fake, _ = aws
    execution = staging.promoted(finish_output())
    tooling = boto3.client("stepfunctions", region_name=REGION)
    with pytest.raises(tooling.exceptions.ExecutionDoesNotExist):
        tooling.describe_execution(executionArn=execution)
    assert invoke(execution)["status"] == "sent"
    assert isinstance(fake, FakeCodePipeline)
