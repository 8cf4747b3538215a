"""The MarkApproved Lambda against moto's SageMaker, with CodePipeline's job API faked.

moto lacks GetJobDetails, GetPipelineState and the job result calls: only those are patched
(FACTS.md, tests/unit/release/pipeline_jobs.py), everything else goes to moto.
"""

from __future__ import annotations

import json
import time

import boto3
import pytest
from moto import mock_aws

from guardrails.release import handlers
from guardrails.services.sagemaker import SageMakerSeam
from tests.aws import INFERENCE_SPECIFICATION, LambdaContext
from tests.released import MODEL_BYTES, RELEASED_BUCKET, create_released_bucket, sha256
from tests.unit.release.pipeline_jobs import (
    APPROVER,
    EVENTS,
    EXECUTION,
    JOB_ID,
    PIPELINE,
    FakeCodePipeline,
    faked_codepipeline,
    job_event,
)

# A handler that fails before its work publishes no metric; Powertools warns about that.
pytestmark = pytest.mark.filterwarnings("ignore:No application metrics:UserWarning")
ACCOUNT = "111111111111"
REGION = "us-east-1"
GROUP = "guardrails-dev"


@pytest.fixture
def aws(monkeypatch):
    monkeypatch.setenv("MOTO_ACCOUNT_ID", ACCOUNT)
    monkeypatch.setenv("MODEL_PACKAGE_GROUP_NAME", GROUP)
    monkeypatch.setenv("RELEASED_BUCKET", RELEASED_BUCKET)
    monkeypatch.setenv("TRAINED_ARTIFACTS_URI", "s3://artifacts/model-pipeline/runs/")
    with mock_aws(), faked_codepipeline(monkeypatch) as fake:
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


def invoke(model_package_arn: str, **parameters: str) -> dict:
    event = job_event(model_package_arn=model_package_arn, **parameters)
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
    assert params["jobId"] == JOB_ID
    assert params["outputVariables"] == {
        "APPROVED_BY": APPROVER,
        "APPROVED_AT": "2026-11-20T09:30:00+00:00",
    }


def assert_refused(fake: FakeCodePipeline, result: dict, message: str) -> None:
    fake.assert_refused(result, message)


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


# The approval before prod: the same function records who approved the package for prod.
PROD_APPROVER = "arn:aws:sts::111111111111:assumed-role/Approver/dave"


def approve_for_prod(
    fake: FakeCodePipeline, arn: str, approver: str | None = PROD_APPROVER, **parameters: str
) -> dict:
    """The RecordApproval job of stage Approve-prod, after `approver` approved there."""
    fake.results.clear()
    fake.stage, fake.action, fake.approval_stage = "Approve-prod", "RecordApproval", "Approve-prod"
    fake.approver = approver
    values = {"approves": "prod", "evidence": "pipeline-staging-1", **parameters}
    return invoke(arn, **values)


def test_the_approval_before_prod_is_recorded_beside_the_release_record(aws):
    sagemaker, fake = aws
    arn = register(sagemaker)
    invoke(arn)
    released = metadata_of(sagemaker, arn)
    result = approve_for_prod(fake, arn)
    assert result["status"] == "approved"
    assert metadata_of(sagemaker, arn) == {
        **released,  # the first approval's record stays as it was
        "guardrails:prod-approved-by": PROD_APPROVER,
        "guardrails:prod-approved-at": "2026-11-20T09:30:00+00:00",
        "guardrails:prod-evidence": "pipeline-staging-1",
    }
    # (moto clears status and description on an update that omits them; SageMaker keeps them.)
    ((operation, params),) = fake.results
    assert operation == "PutJobSuccessResult"
    # The prod deploy stage's started_by reads APPROVED_BY.
    assert params["outputVariables"]["APPROVED_BY"] == PROD_APPROVER
    assert "on the evidence of deployment pipeline-staging-1" in result["summary"]


def test_the_approval_before_prod_is_refused_when_it_cannot_be_attributed(aws):
    sagemaker, fake = aws
    arn = register(sagemaker)
    invoke(arn)
    released = metadata_of(sagemaker, arn)
    fake.approved_in = "an-older-execution"
    assert_refused(fake, approve_for_prod(fake, arn), "cannot be attributed")
    fake.approved_in = EXECUTION
    assert_refused(fake, approve_for_prod(fake, arn, approver=None), "records no approver")
    assert metadata_of(sagemaker, arn) == released


def test_the_approval_before_prod_is_refused_outside_its_stage(aws):
    sagemaker, fake = aws
    arn = register(sagemaker)
    invoke(arn)
    released = metadata_of(sagemaker, arn)
    fake.results.clear()
    fake.approver = PROD_APPROVER
    # The job runs in the first approval's stage but claims to approve prod.
    assert_refused(fake, invoke(arn, approves="prod"), "cannot be attributed")
    assert metadata_of(sagemaker, arn) == released


def test_the_approval_before_prod_needs_a_released_package(aws):
    sagemaker, fake = aws
    arn = register(sagemaker)  # never approved in the first stage
    assert_refused(fake, approve_for_prod(fake, arn), "release")
    assert "guardrails:prod-approved-by" not in metadata_of(sagemaker, arn)
