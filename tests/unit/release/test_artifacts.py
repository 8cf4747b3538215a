"""guardrails/release/artifacts.py: the approval step's copy into the released bucket, in moto."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import boto3
import pytest
from moto import mock_aws

from guardrails.release import artifacts
from guardrails.release.record import S3Location
from guardrails.release.rules import ApprovalRefused
from guardrails.services.s3 import S3Seam
from tests.aws import REGION
from tests.released import create_released_bucket, sha256

ARN = "arn:aws:sagemaker:us-east-1:111111111111:model-package/guardrails-dev/4"
TRAINED = S3Location("artifacts", "model-pipeline/runs/")
MODEL = "s3://artifacts/model-pipeline/runs/exec-1/model/job/output/model.tar.gz"
TEST_DATA = "s3://artifacts/model-pipeline/runs/exec-1/test/test.csv"


def package(model: str = MODEL, test_data: str | None = TEST_DATA, **overrides) -> dict:
    metadata = {"auc": "0.9"} if test_data is None else {"auc": "0.9", "test_data": test_data}
    return {
        "ModelPackageArn": ARN,
        "CreationTime": datetime.now(UTC) + timedelta(seconds=5),
        "InferenceSpecification": {"Containers": [{"Image": "xgb", "ModelDataUrl": model}]},
        "CustomerMetadataProperties": metadata,
        **overrides,
    }


@pytest.fixture
def s3():
    with mock_aws():
        client = boto3.client("s3", region_name=REGION)
        client.create_bucket(Bucket="artifacts")
        client.put_bucket_versioning(
            Bucket="artifacts", VersioningConfiguration={"Status": "Enabled"}
        )
        create_released_bucket(client, "released")
        for uri, body in ((MODEL, b"the evaluated model"), (TEST_DATA, b"1,0.5\n0,0.1\n")):
            client.put_object(Bucket="artifacts", Key=uri.split("artifacts/", 1)[1], Body=body)
        yield client


def release(s3, described: dict) -> artifacts.Released:
    return artifacts.release(described, trained=TRAINED, released_bucket="released", s3=S3Seam(s3))


def test_the_registered_model_and_test_data_are_copied_with_their_digests(s3):
    released = release(s3, package())
    assert released == artifacts.Released(
        model_uri="s3://released/models/guardrails-dev/4/model.tar.gz",
        model_sha256=sha256(b"the evaluated model"),
        test_data_uri="s3://released/test-data/guardrails-dev/4/test.csv",
        test_data_sha256=sha256(b"1,0.5\n0,0.1\n"),
    )
    head = s3.head_object(
        Bucket="released", Key="models/guardrails-dev/4/model.tar.gz", ChecksumMode="ENABLED"
    )
    assert head["ChecksumSHA256"] == released.model_sha256
    assert head["ObjectLockMode"] == "GOVERNANCE"


def test_a_released_version_cannot_be_deleted_during_its_retention(s3):
    release(s3, package())
    (version,) = s3.list_object_versions(Bucket="released", Prefix="models/")["Versions"]
    with pytest.raises(s3.exceptions.ClientError, match="AccessDenied"):
        s3.delete_object(Bucket="released", Key=version["Key"], VersionId=version["VersionId"])


def test_a_model_written_again_after_registration_is_not_released(s3):
    registered = package(CreationTime=datetime.now(UTC) - timedelta(minutes=5))
    with pytest.raises(ApprovalRefused, match="after model package .* was registered"):
        release(s3, registered)
    assert s3.list_objects_v2(Bucket="released").get("KeyCount") == 0


def test_the_registered_version_is_copied_even_if_a_newer_one_appears_meanwhile(s3, monkeypatch):
    """The copy is pinned to the version checked, not to whatever the key holds by then."""
    seam = S3Seam(s3)
    checked = seam.current_version(S3Location("artifacts", MODEL.split("artifacts/", 1)[1]))
    assert checked is not None
    s3.put_object(Bucket="artifacts", Key=checked.location.key, Body=b"a swapped model")
    digest = seam.copy_with_sha256(checked, S3Location("released", "models/x/1/model.tar.gz"))
    assert digest == sha256(b"the evaluated model")


@pytest.mark.parametrize(
    ("described", "message"),
    [
        (package(test_data=None), "records no test-data location"),
        (
            package(model="s3://elsewhere/model.tar.gz"),
            "is not under s3://artifacts/model-pipeline/runs/",
        ),
        (package(model="s3://artifacts/model-pipeline/inputs/m.tar.gz"), "is not under"),
        (package(test_data="not a uri"), "records no test-data location"),
        (
            package(InferenceSpecification={"Containers": [{"Image": "a"}, {"Image": "b"}]}),
            "has 2 inference containers",
        ),
    ],
)
def test_only_the_pipelines_own_artifacts_are_released(s3, described, message):
    with pytest.raises(ApprovalRefused, match=message):
        release(s3, described)


def test_a_missing_or_oversized_artifact_is_refused(s3, monkeypatch):
    missing = package(test_data="s3://artifacts/model-pipeline/runs/exec-1/test/gone.csv")
    with pytest.raises(ApprovalRefused, match="gone.csv of model package .* does not exist"):
        release(s3, missing)
    monkeypatch.setattr(artifacts, "MAX_RELEASE_BYTES", 10)
    with pytest.raises(ApprovalRefused, match="is 19 bytes; the approval step releases at most 10"):
        release(s3, package())
