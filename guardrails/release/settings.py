"""The release Lambdas' settings: environment variables CDK sets, rebuilt into typed classes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from guardrails.validation import check_fields, env_json, env_text, fail, from_mapping

GROUP_NAME = "MODEL_PACKAGE_GROUP_NAME"
TABLE_NAME = "DEPLOYMENT_TABLE_NAME"
RELEASE_STATE_MACHINE_ARN = "RELEASE_STATE_MACHINE_ARN"
TOPIC_ARN = "ON_CALL_TOPIC_ARN"
DEPLOY_TARGETS = "DEPLOY_TARGETS"  # JSON list of ReleaseTarget


@dataclass(frozen=True, kw_only=True)
class ReleaseTarget:
    """One environment the pipeline releases to, in order."""

    environment: str
    endpoint_name: str
    state_machine_arn: str  # its guarded rollout

    def __post_init__(self) -> None:
        check_fields(self)
        for name in ("environment", "endpoint_name", "state_machine_arn"):
            if not getattr(self, name):
                fail(name, "required")


@dataclass(frozen=True, kw_only=True)
class ReleaseSettings:
    """The package-state handler's settings."""

    group_name: str
    table_name: str
    release_state_machine_arn: str
    topic_arn: str
    targets: tuple[ReleaseTarget, ...]


@dataclass(frozen=True, kw_only=True)
class ApprovalSettings:
    """The approval handler's settings."""

    group_name: str


def load_release_settings(environ: Mapping[str, str]) -> ReleaseSettings:
    """ReleaseSettings from the Lambda environment; ConfigError names a bad variable."""
    raw_targets = env_json(environ, DEPLOY_TARGETS, list)
    return ReleaseSettings(
        group_name=env_text(environ, GROUP_NAME),
        table_name=env_text(environ, TABLE_NAME),
        release_state_machine_arn=env_text(environ, RELEASE_STATE_MACHINE_ARN),
        topic_arn=env_text(environ, TOPIC_ARN),
        targets=tuple(
            from_mapping(ReleaseTarget, item, path=f"{DEPLOY_TARGETS}[{index}]")
            for index, item in enumerate(raw_targets)
        ),
    )


def load_approval_settings(environ: Mapping[str, str]) -> ApprovalSettings:
    """ApprovalSettings from the Lambda environment; ConfigError names a missing variable."""
    return ApprovalSettings(group_name=env_text(environ, GROUP_NAME))
