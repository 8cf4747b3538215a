"""The release Lambdas' settings: environment variables CDK sets, rebuilt into typed classes."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from guardrails.release.record import S3Location, parse_s3_uri
from guardrails.validation import (
    check_fields,
    check_pattern,
    env_json,
    env_text,
    fail,
    from_mapping,
    got,
)

GROUP_NAME = "MODEL_PACKAGE_GROUP_NAME"
TABLE_NAME = "DEPLOYMENT_TABLE_NAME"
TOPIC_ARN = "ON_CALL_TOPIC_ARN"
DEPLOY_TARGETS = "DEPLOY_TARGETS"  # JSON list of ReleaseTarget
RELEASED_BUCKET = "RELEASED_BUCKET"  # where the approval step releases artifacts
TRAINED_ARTIFACTS = "TRAINED_ARTIFACTS_URI"  # s3:// prefix the pipeline's runs write under
_ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+$")


@dataclass(frozen=True, kw_only=True)
class ReleaseTarget:
    """One environment the pipeline releases to, in order; maybe in another account."""

    environment: str
    endpoint_name: str
    state_machine_arn: str  # its guarded rollout
    access_role_arn: str  # its release access role: every call there is made as this role

    def __post_init__(self) -> None:
        check_fields(self)
        for name in ("environment", "endpoint_name", "state_machine_arn", "access_role_arn"):
            if not getattr(self, name):
                fail(name, "required")
        check_pattern(
            "access_role_arn", self.access_role_arn, _ROLE_ARN, "arn:aws:iam::123456789012:role/x"
        )


@dataclass(frozen=True, kw_only=True)
class ReleaseSettings:
    """The package-state handler's settings."""

    group_name: str
    table_name: str
    topic_arn: str
    targets: tuple[ReleaseTarget, ...]
    released_bucket: str


@dataclass(frozen=True, kw_only=True)
class ApprovalSettings:
    """The approval handler's settings."""

    group_name: str
    released_bucket: str  # the only place it writes
    trained_artifacts: S3Location  # it releases only what the pipeline's runs wrote under this

    def __post_init__(self) -> None:
        if not self.trained_artifacts.key.endswith("/"):
            fail(TRAINED_ARTIFACTS, f"must end with / {got(self.trained_artifacts.uri)}")


def load_release_settings(environ: Mapping[str, str]) -> ReleaseSettings:
    """ReleaseSettings from the Lambda environment; ConfigError names a bad variable."""
    raw_targets = env_json(environ, DEPLOY_TARGETS, list)
    return ReleaseSettings(
        group_name=env_text(environ, GROUP_NAME),
        table_name=env_text(environ, TABLE_NAME),
        topic_arn=env_text(environ, TOPIC_ARN),
        targets=tuple(
            from_mapping(ReleaseTarget, item, path=f"{DEPLOY_TARGETS}[{index}]")
            for index, item in enumerate(raw_targets)
        ),
        released_bucket=env_text(environ, RELEASED_BUCKET),
    )


def load_approval_settings(environ: Mapping[str, str]) -> ApprovalSettings:
    """ApprovalSettings from the Lambda environment; ConfigError names a bad variable."""
    trained = env_text(environ, TRAINED_ARTIFACTS)
    location = parse_s3_uri(trained)
    if location is None:
        fail(TRAINED_ARTIFACTS, f"must be an s3://bucket/prefix/ URI {got(trained)}")
    return ApprovalSettings(
        group_name=env_text(environ, GROUP_NAME),
        released_bucket=env_text(environ, RELEASED_BUCKET),
        trained_artifacts=location,
    )
