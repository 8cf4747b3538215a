"""What a rollout serves: only a released model, checked byte for byte before it is used.

Start refuses a package the approval step did not release (no recorded approver or released
artifact, another package group, a record pointing elsewhere) and one whose released bytes no
longer match the recorded SHA-256; Deploy checks the bytes again right before CreateModel and
builds the model from the released artifact: the package's image and environment with
`ModelDataUrl` set to the released copy, tagged with the package ARN so the package that serves
can still be told (`endpoint_configs.MODEL_PACKAGE_TAG`, read by
`SageMakerSeam.served_packages`). The replay (guardrails.rollout.replay) takes its rows only from
the test data released with the package (`released_test_data`), checked the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from guardrails.release.record import (
    NotReleased,
    ReleaseRecord,
    S3Location,
    check_released,
    is_sha256,
    parse_s3_uri,
    released_location,
)
from guardrails.rollout.settings import RolloutSettings
from guardrails.rollout.state import RolloutRefused
from guardrails.services import clients
from guardrails.services.s3 import S3Seam


def check_release(
    package: Mapping[str, Any], settings: RolloutSettings, s3: S3Seam | None = None
) -> ReleaseRecord:
    """The package's release record once its released model is verified; else RolloutRefused."""
    record = _release_record(package, settings)
    location = parse_s3_uri(record.model_uri)
    assert location is not None  # check_released compared it with a well-formed location
    found = (s3 or S3Seam(clients.client("s3"))).sha256(location)
    if found != record.model_sha256:
        state = "is missing" if found is None else f"has SHA-256 {found}"
        raise RolloutRefused(
            f"released model {record.model_uri} of {package.get('ModelPackageArn')} {state}, "
            f"but its approval recorded {record.model_sha256}: refusing to serve it"
        )
    return record


def _release_record(package: Mapping[str, Any], settings: RolloutSettings) -> ReleaseRecord:
    """The approval step's record on the package (not yet its bytes); else RolloutRefused."""
    try:
        return check_released(
            package,
            group_name=settings.model_package_group,
            released_bucket=settings.released_bucket,
        )
    except NotReleased as refusal:
        raise RolloutRefused(str(refusal)) from None


def serving_container(package: Mapping[str, Any], record: ReleaseRecord) -> dict[str, Any]:
    """CreateModel's PrimaryContainer: the package's image and environment, the released model."""
    containers = (package.get("InferenceSpecification") or {}).get("Containers") or []
    if len(containers) != 1 or not containers[0].get("Image"):
        raise RolloutRefused(
            f"model package {package.get('ModelPackageArn')} has {len(containers)} inference "
            "containers: only single-container packages with an image are served"
        )
    (container,) = containers
    serving: dict[str, Any] = {"Image": container["Image"], "ModelDataUrl": record.model_uri}
    if container.get("Environment"):
        serving["Environment"] = dict(container["Environment"])
    return serving


def released_container(
    package: Mapping[str, Any], settings: RolloutSettings, s3: S3Seam | None = None
) -> dict[str, Any]:
    """The container to create the model with, after checking the released bytes once more."""
    return serving_container(package, check_release(package, settings, s3))


def released_test_data(
    package: Mapping[str, Any], settings: RolloutSettings
) -> tuple[S3Location, str]:
    """Where the package's released test data is and its recorded SHA-256; else RolloutRefused.

    The bytes themselves are hashed by the reader (they are what the replay sends).
    """
    arn = str(package.get("ModelPackageArn", "?"))
    record = _release_record(package, settings)
    expected = released_location(settings.released_bucket, arn, "test-data")
    if record.test_data_uri != expected.uri or not is_sha256(record.test_data_sha256):
        raise RolloutRefused(
            f"model package {arn} records no released test data at {expected.uri} with a "
            f"SHA-256 (got {record.test_data_uri or 'none'!r}, "
            f"{record.test_data_sha256 or 'none'!r}): the replay sends only the test data the "
            "approval step released with the package"
        )
    return expected, record.test_data_sha256
