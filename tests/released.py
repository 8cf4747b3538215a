"""Model packages as the approval step leaves them, in moto: released, recorded, Approved."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from guardrails.release.record import ReleaseRecord, released_location
from tests.aws import INFERENCE_SPECIFICATION

RELEASED_BUCKET = "guardrails-released"
MODEL_BYTES = b"model.tar.gz of the approved model"
APPROVER = "arn:aws:sts::111111111111:assumed-role/Approver/carol"


def create_released_bucket(s3: Any, name: str = RELEASED_BUCKET) -> str:
    """A versioned bucket with Object Lock's governance retention, like ReleasedArtifacts."""
    s3.create_bucket(Bucket=name, ObjectLockEnabledForBucket=True)
    s3.put_object_lock_configuration(
        Bucket=name,
        ObjectLockConfiguration={
            "ObjectLockEnabled": "Enabled",
            "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 1}},
        },
    )
    return name


def sha256(body: bytes) -> str:
    """Base64 SHA-256, as S3 reports ChecksumSHA256."""
    return base64.b64encode(hashlib.sha256(body).digest()).decode()


def release(
    sagemaker: Any,
    s3: Any,
    arn: str,
    *,
    body: bytes = MODEL_BYTES,
    bucket: str = RELEASED_BUCKET,
    test_data: bytes | None = None,
) -> ReleaseRecord:
    """Do what the approval step does for `arn`: copy its model (and test data), record, approve."""
    location = released_location(bucket, arn, "model")
    _put(s3, location.bucket, location.key, body)
    test_location = released_location(bucket, arn, "test-data")
    if test_data is not None:
        _put(s3, test_location.bucket, test_location.key, test_data)
    record = ReleaseRecord(
        approved_by=APPROVER,
        approved_at="2026-11-20T09:30:00+00:00",
        model_uri=location.uri,
        model_sha256=sha256(body),
        test_data_uri=test_location.uri if test_data is not None else "",
        test_data_sha256=sha256(test_data) if test_data is not None else "",
    )
    sagemaker.update_model_package(
        ModelPackageArn=arn,
        ModelApprovalStatus="Approved",
        ApprovalDescription=f"Approved in pipeline P execution E by {APPROVER}",
        CustomerMetadataProperties=record.metadata(),
    )
    return record


def _put(s3: Any, bucket: str, key: str, body: bytes) -> None:
    s3.put_object(
        Bucket=bucket, Key=key, Body=body, ChecksumAlgorithm="SHA256", ChecksumSHA256=sha256(body)
    )


def register(sagemaker: Any, group: str, **extra: Any) -> str:
    """A package as the pipeline registers it: pending, one container with a model archive."""
    return str(
        sagemaker.create_model_package(
            ModelPackageGroupName=group,
            ModelApprovalStatus="PendingManualApproval",
            InferenceSpecification=INFERENCE_SPECIFICATION,
            **extra,
        )["ModelPackageArn"]
    )
