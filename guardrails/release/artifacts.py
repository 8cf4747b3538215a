"""The approval step's copy: a package's trained model and test data into the released bucket.

Only what the pipeline's runs wrote is released (the artifact bucket's runs prefix), and only
the object version that existed when the package was registered: a model or test split written
again after registration (any pipeline job may write under the runs prefix) is refused, not
released. The copy is pinned to that version and hashed as it is read, so the recorded SHA-256
is that of the evaluated bytes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from guardrails.release.record import (
    PIPELINE_TEST_DATA,
    S3Location,
    parse_s3_uri,
    released_location,
)
from guardrails.release.rules import ApprovalRefused
from guardrails.services.s3 import ObjectVersion, S3Seam

# The copy is spooled through the function's /tmp (512 MB by default).
MAX_RELEASE_BYTES = 400 * 1024 * 1024


@dataclass(frozen=True, kw_only=True)
class Released:
    """The released copies of a package's model and test data, and their SHA-256 digests."""

    model_uri: str
    model_sha256: str
    test_data_uri: str
    test_data_sha256: str


def trained_artifacts(package: Mapping[str, Any], trained: S3Location) -> dict[str, S3Location]:
    """Where the package's model ("model") and test data ("test-data") are, checked.

    ApprovalRefused unless the package has one inference container with a model archive and
    records its test split, both under the pipeline's runs prefix `trained`.
    """
    arn = package.get("ModelPackageArn", "?")
    containers = (package.get("InferenceSpecification") or {}).get("Containers") or []
    if len(containers) != 1:
        raise ApprovalRefused(
            f"model package {arn} has {len(containers)} inference containers; the pipeline "
            "registers exactly one"
        )
    sources = {
        "model": containers[0].get("ModelDataUrl"),
        "test-data": (package.get("CustomerMetadataProperties") or {}).get(PIPELINE_TEST_DATA),
    }
    locations = {}
    for kind, uri in sources.items():
        location = parse_s3_uri(uri)
        if location is None:
            raise ApprovalRefused(
                f"model package {arn} records no {kind} location (got {uri!r}); the pipeline "
                "registers its model archive and its held-out test split"
            )
        if location.bucket != trained.bucket or not location.key.startswith(trained.key):
            raise ApprovalRefused(
                f"model package {arn}: its {kind} {location.uri} is not under {trained.uri}, "
                "where the pipeline's runs write: only the pipeline's own artifacts are released"
            )
        locations[kind] = location
    return locations


def check_unchanged(
    version: ObjectVersion | None, *, source: S3Location, registered_at: datetime, arn: str
) -> ObjectVersion:
    """The version to release; ApprovalRefused if missing, too big or written after registering."""
    if version is None:
        raise ApprovalRefused(f"{source.uri} of model package {arn} does not exist")
    if version.last_modified > registered_at:
        raise ApprovalRefused(
            f"{source.uri} was written at {version.last_modified.isoformat()}, after model "
            f"package {arn} was registered ({registered_at.isoformat()}): it is not what was "
            "evaluated, so it is not released"
        )
    if version.size > MAX_RELEASE_BYTES:
        raise ApprovalRefused(
            f"{source.uri} is {version.size} bytes; the approval step releases at most "
            f"{MAX_RELEASE_BYTES} bytes"
        )
    return version


def release(
    package: Mapping[str, Any], *, trained: S3Location, released_bucket: str, s3: S3Seam
) -> Released:
    """Copy the package's model and test data, as registered, to their released locations."""
    arn = str(package["ModelPackageArn"])
    registered_at = package["CreationTime"]
    copies: dict[str, tuple[str, str]] = {}
    for kind, source in trained_artifacts(package, trained).items():
        version = check_unchanged(
            s3.current_version(source), source=source, registered_at=registered_at, arn=arn
        )
        destination = released_location(released_bucket, arn, kind)
        copies[kind] = (destination.uri, s3.copy_with_sha256(version, destination))
    return Released(
        model_uri=copies["model"][0],
        model_sha256=copies["model"][1],
        test_data_uri=copies["test-data"][0],
        test_data_sha256=copies["test-data"][1],
    )
