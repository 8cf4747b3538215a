"""The MarkApproved Lambda against moto's SageMaker, with CodePipeline's job API faked.

moto lacks GetJobDetails, GetPipelineState and the job result calls: only those are patched
(FACTS.md), everything else goes to moto.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import botocore.client
import pytest
from moto import mock_aws

from guardrails.release import handlers
from guardrails.services.sagemaker import SageMakerSeam
from tests.aws import INFERENCE_SPECIFICATION, LambdaContext

# A handler that fails before its work publishes no metric; Powertools warns about that.
pytestmark = pytest.mark.filterwarnings("ignore:No application metrics:UserWarning")
EVENTS = Path(__file__).resolve().parents[2] / "fixtures" / "events"
ACCOUNT = "111111111111"
REGION = "us-east-1"
GROUP = "guardrails-dev"
PIPELINE = "Guardrails-Pipeline-ModelPipeline1A2B3C4D"
EXECUTION = "5e1f0a2b-3c4d-4e5f-9a8b-7c6d5e4f3a2b"
APPROVER = "arn:aws:sts::111111111111:assumed-role/Approver/carol"


@dataclass
class FakeCodePipeline:
    """What CodePipeline would answer, and the job results the handler reported."""

    approver: str | None = APPROVER
    approved_in: str = EXECUTION
    results: list[tuple[str, dict]] = field(default_factory=list)

    def answer(self, operation: str, params: dict) -> dict[str, Any]:
        if operation == "GetJobDetails":
            return {
                "jobDetails": {
                    "id": params["jobId"],
                    "data": {
                        "pipelineContext": {
                            "pipelineName": PIPELINE,
                            "pipelineExecutionId": EXECUTION,
                            "stage": {"name": "Approve"},
                            "action": {"name": "MarkApproved"},
                        }
                    },
                }
            }
        if operation == "GetPipelineState":
            latest: dict[str, Any] = {
                "status": "Succeeded",
                "summary": "AUC beats the baseline",
                "lastStatusChange": datetime(2026, 11, 20, 9, 30, tzinfo=UTC),
            }
            if self.approver:
                latest["lastUpdatedBy"] = self.approver
            return {
                "pipelineName": params["name"],
                "stageStates": [
                    {
                        "stageName": "Approve",
                        "latestExecution": {"pipelineExecutionId": self.approved_in},
                        "actionStates": [{"actionName": "Approve", "latestExecution": latest}],
                    }
                ],
            }
        self.results.append((operation, params))
        return {}


@pytest.fixture
def aws(monkeypatch):
    monkeypatch.setenv("MOTO_ACCOUNT_ID", ACCOUNT)
    monkeypatch.setenv("MODEL_PACKAGE_GROUP_NAME", GROUP)
    fake = FakeCodePipeline()
    original = botocore.client.BaseClient._make_api_call

    def call(client, operation, params):
        if client.meta.service_model.service_name == "codepipeline":
            return fake.answer(operation, params)
        return original(client, operation, params)

    with mock_aws():
        monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", call)
        sagemaker = boto3.client("sagemaker", region_name=REGION)
        for group in (GROUP, "guardrails-prod"):
            sagemaker.create_model_package_group(ModelPackageGroupName=group)
        yield sagemaker, fake


def register(sagemaker, group: str = GROUP, status: str = "PendingManualApproval") -> str:
    return sagemaker.create_model_package(
        ModelPackageGroupName=group,
        ModelApprovalStatus=status,
        InferenceSpecification=INFERENCE_SPECIFICATION,
    )["ModelPackageArn"]


def invoke(model_package_arn: str) -> dict:
    event = json.loads((EVENTS / "codepipeline_mark_approved.json").read_text())
    configuration = event["CodePipeline.job"]["data"]["actionConfiguration"]["configuration"]
    configuration["UserParameters"] = json.dumps({"model_package_arn": model_package_arn})
    return handlers.approval(event, LambdaContext())


def status_of(sagemaker, arn: str) -> tuple[str, str | None]:
    package = sagemaker.describe_model_package(ModelPackageName=arn)
    return package["ModelApprovalStatus"], package.get("ApprovalDescription")


def test_the_recorded_event_names_a_package_of_the_pipelines_group(aws):
    sagemaker, fake = aws
    arns = [register(sagemaker) for _ in range(3)]
    event = json.loads((EVENTS / "codepipeline_mark_approved.json").read_text())
    result = handlers.approval(event, LambdaContext())
    assert result["status"] == "approved"
    assert status_of(sagemaker, arns[2])[0] == "Approved"
    assert status_of(sagemaker, arns[0])[0] == "PendingManualApproval"


def test_approves_the_package_and_records_who_and_when(aws):
    sagemaker, fake = aws
    arn = register(sagemaker)
    result = invoke(arn)
    status, description = status_of(sagemaker, arn)
    assert status == "Approved"
    assert description == (
        f"Approved in pipeline {PIPELINE} execution {EXECUTION} by {APPROVER} at "
        "2026-11-20T09:30:00+00:00: AUC beats the baseline"
    )
    assert result["status"] == "approved"
    ((operation, params),) = fake.results
    assert operation == "PutJobSuccessResult"
    assert params["jobId"] == "c0d3b1a2-5e6f-4a7b-8c9d-0e1f2a3b4c5d"
    assert params["outputVariables"] == {
        "APPROVED_BY": APPROVER,
        "APPROVED_AT": "2026-11-20T09:30:00+00:00",
    }


def assert_refused(fake: FakeCodePipeline, result: dict, message: str) -> None:
    assert result["status"] == "refused"
    ((operation, params),) = fake.results
    assert operation == "PutJobFailureResult"
    assert params["failureDetails"]["type"] == "JobFailed"
    assert message in params["failureDetails"]["message"]


def test_refuses_a_package_from_another_group(aws):
    sagemaker, fake = aws
    arn = register(sagemaker, group="guardrails-prod")
    assert_refused(fake, invoke(arn), "belongs to group 'guardrails-prod'")
    assert status_of(sagemaker, arn) == ("PendingManualApproval", None)


def test_refuses_an_already_rejected_package(aws):
    sagemaker, fake = aws
    arn = register(sagemaker)
    sagemaker.update_model_package(
        ModelPackageArn=arn, ModelApprovalStatus="Rejected", ApprovalDescription="leaks labels"
    )
    assert_refused(fake, invoke(arn), "was rejected (leaks labels)")
    assert status_of(sagemaker, arn) == ("Rejected", "leaks labels")


def test_refuses_when_no_approver_is_recorded(aws):
    sagemaker, fake = aws
    fake.approver = None
    arn = register(sagemaker)
    assert_refused(fake, invoke(arn), "records no approver")
    assert status_of(sagemaker, arn)[0] == "PendingManualApproval"


def test_refuses_an_approval_given_to_another_execution(aws):
    sagemaker, fake = aws
    fake.approved_in = "an-older-execution"
    arn = register(sagemaker)
    assert_refused(fake, invoke(arn), "cannot be attributed")
    assert status_of(sagemaker, arn)[0] == "PendingManualApproval"


def test_an_already_approved_package_keeps_its_description(aws):
    sagemaker, fake = aws
    arn = register(sagemaker)
    sagemaker.update_model_package(
        ModelPackageArn=arn, ModelApprovalStatus="Approved", ApprovalDescription="by console"
    )
    assert invoke(arn)["status"] == "approved"
    assert status_of(sagemaker, arn) == ("Approved", "by console")
    assert fake.results[0][0] == "PutJobSuccessResult"


def test_an_unexpected_error_still_answers_the_job(aws, monkeypatch):
    sagemaker, fake = aws
    arn = register(sagemaker)

    def broken(*args, **kwargs):
        raise RuntimeError("registry unavailable")

    monkeypatch.setattr(SageMakerSeam, "mark_approved", broken)
    with pytest.raises(RuntimeError):
        invoke(arn)
    assert_refused(fake, {"status": "refused"}, "RuntimeError: registry unavailable")
