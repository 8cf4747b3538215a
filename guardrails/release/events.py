"""The release's events, parsed into typed requests: package state changes and pipeline jobs.

Powertools' event source data classes read the envelopes (EventBridge, CodePipeline); this
module checks what the release needs from them and names the field when something is missing.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools.utilities.data_classes import CodePipelineJobEvent, EventBridgeEvent

from guardrails.arns import parse_model_package_arn
from guardrails.release.rules import DETAIL_TYPE, PackageChange

_PARAMETER_LIMIT = 300
_EXECUTION_ARN = re.compile(r"^arn:aws[a-z-]*:states:[a-z0-9-]+:\d{12}:execution:[\w-]+:[\w-]+$")


class EventError(ValueError):
    """An event is unusable; the message names the field."""


def parse_change(event: Mapping[str, Any]) -> PackageChange:
    """The change an EventBridge event reports; EventError names a missing field."""
    if not isinstance(event, Mapping):
        raise EventError("event: must be an object")
    envelope = EventBridgeEvent(dict(event))
    if envelope.get("detail-type") != DETAIL_TYPE:
        raise EventError(f"detail-type: expected {DETAIL_TYPE!r}")
    detail = envelope.get("detail")
    if not isinstance(detail, Mapping):
        raise EventError("detail: must be an object")
    arn = detail.get("ModelPackageArn")
    parsed = parse_model_package_arn(arn)
    if parsed is None:
        raise EventError(f"detail.ModelPackageArn: not a versioned model package ARN ({arn!r})")
    status = detail.get("ModelApprovalStatus")
    if not isinstance(status, str) or not status:
        raise EventError("detail.ModelApprovalStatus: missing")
    changed_at = detail.get("LastModifiedTime") or envelope.get("time")
    if not changed_at:
        raise EventError("detail.LastModifiedTime: missing, and the event has no time")
    return PackageChange(
        model_package_arn=parsed.arn,
        group_name=str(detail.get("ModelPackageGroupName") or parsed.group),
        status=status,
        changed_at=str(changed_at),
        changed_by=_who(detail.get("LastModifiedBy")),
    )


def _who(modified_by: Any) -> str:
    if isinstance(modified_by, Mapping):
        for key in ("IamIdentity", "UserProfileName", "UserProfileArn"):
            value = modified_by.get(key)
            if isinstance(value, Mapping):
                value = value.get("Arn") or value.get("PrincipalId")
            if isinstance(value, str) and value:
                return value
    return "unknown"


def change_identity(change: PackageChange) -> str:
    """One text per package, status and change time: a repeated delivery has the same one."""
    return f"{change.model_package_arn}#{change.status}#{change.changed_at}"


def execution_name(change: PackageChange, environment: str) -> str:
    """A Step Functions execution name unique to this change and environment (idempotent)."""
    digest = hashlib.sha256(f"{change_identity(change)}#{environment}".encode()).hexdigest()[:16]
    version = change.model_package_arn.rsplit("/", 1)[-1]
    return f"{change.status.lower()}-v{version}-{environment}-{digest}"[:80]


def rollout_input(model_package_arn: str, *, started_by: str, reason: str) -> str:
    """The rollout state machine's input."""
    return json.dumps(
        {"model_package_arn": model_package_arn, "started_by": started_by, "reason": reason}
    )


# --------------------------------------------------------------------------- pipeline jobs


@dataclass(frozen=True, kw_only=True)
class JobRequest:
    """A CodePipeline job of the release's Lambdas, with its UserParameters.

    The first approval names the package only. Before the first production environment, the
    evidence job also names the previous environment's rollout execution (`execution_arn`),
    and the approval step's job the environment it approves (`approves`) and the deployment
    whose evidence the approvers saw (`evidence`).
    """

    job_id: str
    model_package_arn: str
    approves: str = ""
    evidence: str = ""
    execution_arn: str = ""


def job_id(event: Mapping[str, Any]) -> str:
    """The job id of a CodePipeline Lambda invoke event; EventError when there is none."""
    job = event.get("CodePipeline.job") if isinstance(event, Mapping) else None
    if not isinstance(job, Mapping) or not isinstance(job.get("id"), str) or not job["id"]:
        raise EventError("event: not a CodePipeline job (no CodePipeline.job.id)")
    return CodePipelineJobEvent(dict(event)).get_id


def parse_job(event: Mapping[str, Any]) -> JobRequest:
    """The job id and the model package ARN from the action's UserParameters (JSON)."""
    identifier = job_id(event)
    try:
        parameters = CodePipelineJobEvent(dict(event)).decoded_user_parameters
    except (ValueError, KeyError, TypeError, AttributeError):
        parameters = None  # no action configuration, or UserParameters that are not JSON
    if not isinstance(parameters, Mapping):
        raise EventError("UserParameters: must be a JSON object with model_package_arn")
    arn = parameters.get("model_package_arn")
    parsed = parse_model_package_arn(arn)
    if parsed is None:
        raise EventError(
            f"UserParameters.model_package_arn: not a versioned model package ARN ({arn!r})"
        )
    optional = {}
    for name in ("approves", "evidence", "execution_arn"):
        value = parameters.get(name, "")
        if not isinstance(value, str) or len(value) > _PARAMETER_LIMIT:
            raise EventError(
                f"UserParameters.{name}: must be text of at most {_PARAMETER_LIMIT} characters"
            )
        optional[name] = value
    if optional["execution_arn"] and not _EXECUTION_ARN.match(optional["execution_arn"]):
        raise EventError(
            "UserParameters.execution_arn: not a Step Functions execution ARN "
            f"({optional['execution_arn']!r})"
        )
    return JobRequest(job_id=identifier, model_package_arn=parsed.arn, **optional)
