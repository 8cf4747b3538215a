"""Only released, unchanged models serve: Start and Deploy against moto's SageMaker and S3."""

from __future__ import annotations

import json
import re

import boto3
import pytest
from moto import mock_aws

from guardrails.release.record import MODEL_SHA256, MODEL_URI, released_location
from guardrails.rollout import artifacts, ending, steps
from guardrails.rollout.endpoint_configs import MODEL_PACKAGE_TAG
from guardrails.rollout.state import FailureReport, RolloutRefused, RolloutState, StartRequest
from guardrails.services.s3 import S3Seam
from guardrails.services.sagemaker import SageMakerSeam
from tests.aws import INFERENCE_SPECIFICATION, REGION
from tests.released import MODEL_BYTES, RELEASED_BUCKET, register, release, sha256
from tests.unit.rollout.doubles import ENDPOINT, GROUP, World, make_world


@pytest.fixture
def world(monkeypatch) -> World:
    with mock_aws():
        yield make_world(monkeypatch)


def start(world: World, package: str) -> RolloutState:
    request = StartRequest(
        deployment_id="d-1",
        execution_arn="arn:aws:states:us-east-1:123456789012:execution:rollout:d-1",
        model_package_arn=package,
        started_by="pipeline",
        reason="weekly retrain",
    )
    return steps.start(request, world.ctx)


def s3() -> S3Seam:
    return S3Seam(boto3.client("s3", region_name=REGION))


def describe(world: World, arn: str) -> dict:
    return world.sagemaker.describe_model_package(ModelPackageName=arn)


def test_a_released_package_is_checked_and_served_from_its_released_copy(world):
    package = describe(world, world.approved_package)
    record = artifacts.check_release(package, world.ctx.settings, s3())
    assert (
        record.model_uri == released_location(RELEASED_BUCKET, world.approved_package, "model").uri
    )
    assert record.model_sha256 == sha256(MODEL_BYTES)
    assert artifacts.serving_container(package, record) == {
        "Image": INFERENCE_SPECIFICATION["Containers"][0]["Image"],
        "ModelDataUrl": record.model_uri,
    }


def test_deploy_creates_the_model_from_the_released_artifact_tagged_with_its_package(world):
    state = steps.deploy(start(world, world.approved_package), world.ctx)
    model = world.sagemaker.describe_model(ModelName=state.model_name)
    assert (
        model["PrimaryContainer"]["ModelDataUrl"]
        == released_location(RELEASED_BUCKET, world.approved_package, "model").uri
    )
    assert "ModelPackageName" not in model["PrimaryContainer"]
    tags = world.sagemaker.list_tags(ResourceArn=model["ModelArn"])["Tags"]
    assert {"Key": MODEL_PACKAGE_TAG, "Value": world.approved_package} in tags
    # Which package serves is still known once the endpoint moved to the new config.
    assert SageMakerSeam(world.sagemaker).served_packages(ENDPOINT) == {world.approved_package}


def test_a_console_approval_is_refused_and_on_call_told_how_to_release(world):
    console = register(world.sagemaker, GROUP)
    world.sagemaker.update_model_package(
        ModelPackageArn=console, ModelApprovalStatus="Approved", ApprovalDescription="by console"
    )
    with pytest.raises(RolloutRefused) as refusal:
        start(world, console)
    assert "approved outside the pipeline's approval step" in str(refusal.value)
    assert "approving it in the model pipeline's Approve stage" in str(refusal.value)
    error = {"Error": "RolloutRefused", "Cause": json.dumps({"errorMessage": str(refusal.value)})}
    report = FailureReport(deployment_id="d-1", error=error, state={"model_package_arn": console})
    ending.record_failure(report, world.ctx)
    (message,) = world.messages()
    assert "approved outside the pipeline's approval step" in message["text"]
    assert world.updates == []


def test_a_package_of_another_group_is_refused(world):
    world.sagemaker.create_model_package_group(ModelPackageGroupName="guardrails-other")
    other = register(world.sagemaker, "guardrails-other")
    release(world.sagemaker, boto3.client("s3", region_name=REGION), other)
    with pytest.raises(RolloutRefused, match="belongs to group 'guardrails-other'"):
        start(world, other)


def test_a_record_copied_from_another_package_is_refused(world):
    copied = register(world.sagemaker, GROUP)
    metadata = describe(world, world.approved_package)["CustomerMetadataProperties"]
    world.sagemaker.update_model_package(
        ModelPackageArn=copied, ModelApprovalStatus="Approved", CustomerMetadataProperties=metadata
    )
    with pytest.raises(RolloutRefused, match="not at s3://guardrails-released/models/.*/3/"):
        start(world, copied)


def test_a_released_model_that_changed_is_refused(world):
    location = released_location(RELEASED_BUCKET, world.approved_package, "model")
    boto3.client("s3", region_name=REGION).put_object(
        Bucket=location.bucket, Key=location.key, Body=b"something else", ChecksumAlgorithm="SHA256"
    )
    with pytest.raises(RolloutRefused, match=re.escape(f"has SHA-256 {sha256(b'something else')}")):
        start(world, world.approved_package)


def test_a_record_whose_released_model_is_missing_is_refused(world):
    """A record forged to the right place with a plausible digest: nothing was released there."""
    forged = register(world.sagemaker, GROUP)
    location = released_location(RELEASED_BUCKET, forged, "model")
    metadata = {
        "guardrails:approved-by": "someone",
        MODEL_URI: location.uri,
        MODEL_SHA256: sha256(MODEL_BYTES),
    }
    world.sagemaker.update_model_package(
        ModelPackageArn=forged, ModelApprovalStatus="Approved", CustomerMetadataProperties=metadata
    )
    with pytest.raises(RolloutRefused, match=f"released model {location.uri} .* is missing"):
        start(world, forged)


def test_deploy_checks_the_bytes_again_right_before_create_model(world):
    state = start(world, world.approved_package)
    location = released_location(RELEASED_BUCKET, world.approved_package, "model")
    boto3.client("s3", region_name=REGION).put_object(
        Bucket=location.bucket, Key=location.key, Body=b"swapped", ChecksumAlgorithm="SHA256"
    )
    with pytest.raises(RolloutRefused, match="refusing to serve it"):
        steps.deploy(state, world.ctx)
    assert SageMakerSeam(world.sagemaker).model(state.model_name) is None
    assert world.updates == []


def test_a_record_without_a_valid_checksum_is_refused(world):
    package = describe(world, world.approved_package)
    metadata = {**package["CustomerMetadataProperties"], MODEL_SHA256: "not-a-digest"}
    with pytest.raises(RolloutRefused, match="no valid SHA-256"):
        artifacts.check_release(
            {**package, "CustomerMetadataProperties": metadata}, world.ctx.settings, s3()
        )


def test_only_single_container_packages_with_an_image_are_served(world):
    package = describe(world, world.approved_package)
    record = artifacts.check_release(package, world.ctx.settings, s3())
    two = {"InferenceSpecification": {"Containers": [{"Image": "a"}, {"Image": "b"}]}}
    with pytest.raises(RolloutRefused, match="has 2 inference containers"):
        artifacts.serving_container({**package, **two}, record)
    environment = {"Containers": [{"Image": "a", "Environment": {"SAGEMAKER_PROGRAM": "x"}}]}
    container = artifacts.serving_container(
        {**package, "InferenceSpecification": environment}, record
    )
    assert container["Environment"] == {"SAGEMAKER_PROGRAM": "x"}
