"""guardrails/release/record.py: the release record, written once and read back strictly."""

from __future__ import annotations

import pytest

from guardrails.release import record
from guardrails.release.record import NotReleased, ReleaseRecord, S3Location

PACKAGE = "arn:aws:sagemaker:us-east-1:111111111111:model-package/guardrails-dev/7"
MODEL_URI = "s3://released/models/guardrails-dev/7/model.tar.gz"
DIGEST = "LPJNul+wow4m6DsqxbninhsWHlwfp0JecwQzYpOLmCQ="  # SHA-256 of b"hello"
RECORD = ReleaseRecord(
    approved_by="arn:aws:sts::111111111111:assumed-role/Approver/carol",
    approved_at="2026-11-20T09:30:00+00:00",
    model_uri=MODEL_URI,
    model_sha256=DIGEST,
    test_data_uri="s3://released/test-data/guardrails-dev/7/test.csv",
    test_data_sha256=DIGEST,
)


def package(**overrides) -> dict:
    return {
        "ModelPackageArn": PACKAGE,
        "ModelPackageGroupName": "guardrails-dev",
        "ModelApprovalStatus": "Approved",
        "CustomerMetadataProperties": {"auc": "0.91", **RECORD.metadata()},
        **overrides,
    }


def check(described: dict) -> ReleaseRecord:
    return record.check_released(described, group_name="guardrails-dev", released_bucket="released")


def test_released_locations_are_one_folder_per_package_version():
    assert record.released_location("released", PACKAGE, "model") == S3Location(
        "released", "models/guardrails-dev/7/model.tar.gz"
    )
    assert record.released_location("released", PACKAGE, "test-data").uri == (
        "s3://released/test-data/guardrails-dev/7/test.csv"
    )
    with pytest.raises(ValueError, match="not a versioned model package ARN"):
        record.released_location("released", "arn:aws:sagemaker:::model/x", "model")


def test_the_record_round_trips_through_the_package_metadata():
    assert record.read_record(package()) == RECORD
    assert check(package()) == RECORD
    assert record.read_record({"CustomerMetadataProperties": {"auc": "0.9"}}) is None
    assert record.read_record({}) is None


def test_metadata_values_keep_to_what_sagemaker_accepts():
    odd = ReleaseRecord(
        approved_by="arn:aws:sts::1:assumed-role/A/carol,ops (on call)",
        approved_at="t",
        model_uri=MODEL_URI,
        model_sha256=DIGEST,
    )
    metadata = odd.metadata()
    assert metadata[record.APPROVED_BY] == "arn:aws:sts::1:assumed-role/A/carol_ops _on call_"
    assert record.TEST_DATA_URI not in metadata  # empty values are left out
    assert record.metadata_value("x" * 300) == "x" * 256


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"ModelPackageGroupName": "guardrails-prod"}, "belongs to group 'guardrails-prod'"),
        ({"ModelApprovalStatus": "PendingManualApproval"}, "is PendingManualApproval: only"),
        (
            {"CustomerMetadataProperties": {"auc": "0.9"}},
            "approved outside the pipeline's approval step: it has no recorded approver",
        ),
        (
            {
                "CustomerMetadataProperties": {
                    **RECORD.metadata(),
                    record.MODEL_URI: "s3://released/models/guardrails-dev/6/model.tar.gz",
                }
            },
            "records its released model at s3://released/models/guardrails-dev/6/",
        ),
        (
            {"CustomerMetadataProperties": {**RECORD.metadata(), record.MODEL_URI: "s3://a/b"}},
            "not at s3://released/models/guardrails-dev/7/model.tar.gz",
        ),
        (
            {"CustomerMetadataProperties": {**RECORD.metadata(), record.MODEL_SHA256: "abc="}},
            "no valid SHA-256",
        ),
    ],
)
def test_a_package_that_may_not_serve_says_why(overrides, message):
    with pytest.raises(NotReleased, match=message):
        check(package(**overrides))


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("s3://bucket/a/b.csv", S3Location("bucket", "a/b.csv")),
        ("s3://bucket/", None),
        ("s3://bucket", None),
        ("https://bucket/key", None),
        ("s3:///key", None),
        ("s3://bucket/key?versionId=1", None),
        (None, None),
        (3, None),
    ],
)
def test_s3_uris_are_parsed_strictly(uri, expected):
    assert record.parse_s3_uri(uri) == expected


def test_only_base64_sha256_digests_pass():
    assert record.is_sha256(DIGEST)
    assert not record.is_sha256(DIGEST[:-2] + "==")  # 31 bytes
    assert not record.is_sha256("!" * 44)
    assert not record.is_sha256(None)
