"""The MarkApproved Lambda against moto's SageMaker, with CodePipeline's job API faked.

moto lacks GetJobDetails, GetPipelineState and the job result calls: only those are patched
(FACTS.md), everything else goes to moto.
"""

from __future__ import annotations

import json
import time
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
from tests.released import MODEL_BYTES, RELEASED_BUCKET, create_released_bucket, sha256

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
    monkeypatch.setenv("RELEASED_BUCKET", RELEASED_BUCKET)
    monkeypatch.setenv("TRAINED_ARTIFACTS_URI", "s3://artifacts/model-pipeline/runs/")
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
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket="artifacts")
        create_released_bucket(s3)
        for key, body in ((MODEL_KEY, MODEL_BYTES), (TEST_KEY, TEST_BYTES)):
            s3.put_object(Bucket="artifacts", Key=key, Body=body)
        yield sagemaker, fake


MODEL_KEY = "model-pipeline/runs/exec-1/model/train-job/output/model.tar.gz"
TEST_KEY = "model-pipeline/runs/exec-1/test/test.csv"
TEST_BYTES = b"1,0.5,1.2\n0,0.1,-0.3\n"


def register(sagemaker, group: str = GROUP) -> str:
    """A package as the pipeline's Register step files it."""
    container = {
        **INFERENCE_SPECIFICATION["Containers"][0],
        "ModelDataUrl": f"s3://artifacts/{MODEL_KEY}",
    }
    return sagemaker.create_model_package(
        ModelPackageGroupName=group,
        ModelApprovalStatus="PendingManualApproval",
        InferenceSpecification={**INFERENCE_SPECIFICATION, "Containers": [container]},
        CustomerMetadataProperties={"auc": "0.91", "test_data": f"s3://artifacts/{TEST_KEY}"},
    )["ModelPackageArn"]


def invoke(model_package_arn: str) -> dict:
    event = json.loads((EVENTS / "codepipeline_mark_approved.json").read_text())
    configuration = event["CodePipeline.job"]["data"]["actionConfiguration"]["configuration"]
    configuration["UserParameters"] = json.dumps({"model_package_arn": model_package_arn})
    return handlers.approval(event, LambdaContext())


def status_of(sagemaker, arn: str) -> tuple[str, str | None]:
    package = sagemaker.describe_model_package(ModelPackageName=arn)
    return package["ModelApprovalStatus"], package.get("ApprovalDescription")


def metadata_of(sagemaker, arn: str) -> dict[str, str]:
    return sagemaker.describe_model_package(ModelPackageName=arn).get(
        "CustomerMetadataProperties", {}
    )


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
    version = arn.rsplit("/", 1)[1]
    assert metadata_of(sagemaker, arn) == {
        "auc": "0.91",
        "test_data": f"s3://artifacts/{TEST_KEY}",
        "guardrails:approved-by": APPROVER,
        "guardrails:approved-at": "2026-11-20T09:30:00+00:00",
        "guardrails:model-uri": f"s3://{RELEASED_BUCKET}/models/{GROUP}/{version}/model.tar.gz",
        "guardrails:model-sha256": sha256(MODEL_BYTES),
        "guardrails:test-data-uri": f"s3://{RELEASED_BUCKET}/test-data/{GROUP}/{version}/test.csv",
        "guardrails:test-data-sha256": sha256(TEST_BYTES),
    }
    assert result["status"] == "approved"
    assert "SHA-256" in result["summary"]
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


def test_a_package_approved_in_the_console_is_released_when_approved_here(aws):
    """A person approved it in this pipeline execution too: now it gets its release record."""
    sagemaker, fake = aws
    arn = register(sagemaker)
    sagemaker.update_model_package(
        ModelPackageArn=arn,
        ModelApprovalStatus="Approved",
        ApprovalDescription="by console",
        # SageMaker keeps a package's metadata through an update; moto needs it passed again.
        CustomerMetadataProperties=metadata_of(sagemaker, arn),
    )
    assert invoke(arn)["status"] == "approved"
    status, description = status_of(sagemaker, arn)
    assert status == "Approved" and description.startswith("Approved in pipeline")
    assert metadata_of(sagemaker, arn)["guardrails:approved-by"] == APPROVER
    assert fake.results[0][0] == "PutJobSuccessResult"


def test_a_retried_job_leaves_a_released_package_as_it_is(aws):
    sagemaker, fake = aws
    arn = register(sagemaker)
    invoke(arn)
    before = sagemaker.describe_model_package(ModelPackageName=arn)
    result = invoke(arn)
    assert result["status"] == "approved"
    assert result["summary"] == f"{arn} already approved and released"
    after = sagemaker.describe_model_package(ModelPackageName=arn)
    assert after["CustomerMetadataProperties"] == before["CustomerMetadataProperties"]
    assert [operation for operation, _ in fake.results] == ["PutJobSuccessResult"] * 2


def test_a_model_rewritten_after_registration_is_refused(aws):
    sagemaker, fake = aws
    arn = register(sagemaker)
    time.sleep(1.1)  # S3 LastModified has one-second resolution
    boto3.client("s3", region_name=REGION).put_object(Bucket="artifacts", Key=MODEL_KEY, Body=b"x")
    assert_refused(fake, invoke(arn), "after model package")
    assert status_of(sagemaker, arn) == ("PendingManualApproval", None)


def test_an_unexpected_error_still_answers_the_job(aws, monkeypatch):
    sagemaker, fake = aws
    arn = register(sagemaker)

    def broken(*args, **kwargs):
        raise RuntimeError("registry unavailable")

    monkeypatch.setattr(SageMakerSeam, "mark_approved", broken)
    with pytest.raises(RuntimeError):
        invoke(arn)
    assert_refused(fake, {"status": "refused"}, "RuntimeError: registry unavailable")
