"""The release record: what the approval step writes on a model package, read back by the release.

When a person approves a package in the pipeline, the approval step copies its model artifact
(and the held-out test data the pipeline wrote) into the released-artifacts bucket, which only
that step may write and where S3 Object Lock keeps every version, and records on the package, in
the same UpdateModelPackage call that sets it Approved, who approved it, where the released
bytes are and their SHA-256 (CustomerMetadataProperties, so the record travels with the package).
Every path to an endpoint (the rollout's Start and Deploy steps, the rejection handler's
rollback target) accepts only a package that carries a complete record pointing at its own
released location. Pure: no AWS calls.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

from guardrails.arns import parse_model_package_arn

APPROVED = "Approved"
# CustomerMetadataProperties keys; SageMaker allows letters, digits, spaces and _.:/=+-@.
APPROVED_BY = "guardrails:approved-by"
APPROVED_AT = "guardrails:approved-at"
MODEL_URI = "guardrails:model-uri"
MODEL_SHA256 = "guardrails:model-sha256"
TEST_DATA_URI = "guardrails:test-data-uri"
TEST_DATA_SHA256 = "guardrails:test-data-sha256"
# Where the pipeline's registration says its held-out test split is (pipelines/definition.py).
PIPELINE_TEST_DATA = "test_data"

# Key layout of the released-artifacts bucket: one folder per package version.
MODELS_PREFIX = "models"  # what endpoints load; the model execution roles read only this
TEST_DATA_PREFIX = "test-data"  # what the replay of issue 12 scores
MODEL_FILE = "model.tar.gz"
TEST_DATA_FILE = "test.csv"

_METADATA_VALUE = re.compile(r"[^\w\s.:/=+\-@]")
_METADATA_VALUE_LIMIT = 256


class NotReleased(ValueError):
    """The package may not reach an endpoint; the message says why and what to do."""


@dataclass(frozen=True)
class S3Location:
    """A bucket and key."""

    bucket: str
    key: str

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


def parse_s3_uri(uri: object) -> S3Location | None:
    """The bucket and key of an s3://bucket/key URI, or None."""
    if not isinstance(uri, str):
        return None
    parsed = urlparse(uri)
    key = parsed.path.lstrip("/")
    if parsed.scheme != "s3" or not parsed.netloc or not key or parsed.query or parsed.fragment:
        return None
    return S3Location(parsed.netloc, key)


def released_location(released_bucket: str, model_package_arn: str, kind: str) -> S3Location:
    """Where the approval step puts a package's model ("model") or test data ("test-data")."""
    parsed = parse_model_package_arn(model_package_arn)
    if parsed is None:
        raise ValueError(f"not a versioned model package ARN: {model_package_arn!r}")
    prefix, file = {
        "model": (MODELS_PREFIX, MODEL_FILE),
        "test-data": (TEST_DATA_PREFIX, TEST_DATA_FILE),
    }[kind]
    return S3Location(released_bucket, f"{prefix}/{parsed.group}/{parsed.version}/{file}")


@dataclass(frozen=True, kw_only=True)
class ReleaseRecord:
    """Who approved a package, and the released bytes: where they are and their SHA-256."""

    approved_by: str
    approved_at: str
    model_uri: str
    model_sha256: str  # base64, as S3 reports ChecksumSHA256
    test_data_uri: str = ""
    test_data_sha256: str = ""

    def metadata(self) -> dict[str, str]:
        """The record as CustomerMetadataProperties."""
        values = {
            APPROVED_BY: self.approved_by,
            APPROVED_AT: self.approved_at,
            MODEL_URI: self.model_uri,
            MODEL_SHA256: self.model_sha256,
            TEST_DATA_URI: self.test_data_uri,
            TEST_DATA_SHA256: self.test_data_sha256,
        }
        return {key: metadata_value(value) for key, value in values.items() if value}


def metadata_value(text: str) -> str:
    """`text` as SageMaker accepts a metadata value (disallowed characters become _)."""
    return _METADATA_VALUE.sub("_", text)[:_METADATA_VALUE_LIMIT]


def read_record(package: Mapping[str, Any]) -> ReleaseRecord | None:
    """The release record on a DescribeModelPackage response, or None when it has none."""
    metadata = package.get("CustomerMetadataProperties") or {}
    values = {key: metadata.get(key, "") for key in (APPROVED_BY, MODEL_URI, MODEL_SHA256)}
    if not all(isinstance(value, str) and value for value in values.values()):
        return None
    return ReleaseRecord(
        approved_by=metadata[APPROVED_BY],
        approved_at=str(metadata.get(APPROVED_AT, "")),
        model_uri=metadata[MODEL_URI],
        model_sha256=metadata[MODEL_SHA256],
        test_data_uri=str(metadata.get(TEST_DATA_URI, "")),
        test_data_sha256=str(metadata.get(TEST_DATA_SHA256, "")),
    )


def is_sha256(checksum: object) -> bool:
    """True for a base64 SHA-256 digest (44 characters), as S3 reports ChecksumSHA256."""
    if not isinstance(checksum, str) or len(checksum) != 44:
        return False
    try:
        return len(base64.b64decode(checksum, validate=True)) == 32
    except (binascii.Error, ValueError):
        return False


def check_released(
    package: Mapping[str, Any], *, group_name: str, released_bucket: str
) -> ReleaseRecord:
    """The package's release record, or NotReleased saying why the package may not serve.

    A package may serve when it is Approved, belongs to the pipeline's group, and carries the
    approval step's record pointing at its own released location with a SHA-256 digest. A
    record copied from another package, or written at registration, points elsewhere and is
    refused; the checksum of the released object itself is checked by the caller.
    """
    arn = str(package.get("ModelPackageArn", "?"))
    group = package.get("ModelPackageGroupName")
    if group != group_name:
        raise NotReleased(
            f"model package {arn} belongs to group {group!r}, not to the pipeline's "
            f"{group_name!r}: only packages the pipeline registered and approved are released"
        )
    status = package.get("ModelApprovalStatus")
    if status != APPROVED:
        raise NotReleased(f"model package {arn} is {status}: only Approved packages are released")
    record = read_record(package)
    if record is None:
        raise NotReleased(
            f"model package {arn} was approved outside the pipeline's approval step: it has no "
            "recorded approver and no released artifact. Release a model by approving it in the "
            "model pipeline's Approve stage; set this package back to PendingManualApproval or "
            "Rejected"
        )
    expected = released_location(released_bucket, arn, "model").uri
    if record.model_uri != expected:
        raise NotReleased(
            f"model package {arn} records its released model at {record.model_uri}, not at "
            f"{expected} where the approval step releases it: refusing"
        )
    if not is_sha256(record.model_sha256):
        raise NotReleased(
            f"model package {arn} records no valid SHA-256 for its released model "
            f"({record.model_sha256!r}): refusing"
        )
    return record
