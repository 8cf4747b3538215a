"""Approving a model package after the pipeline's manual approval: the rules, no AWS calls.

The approval Lambda runs right after CodePipeline's manual approval action. It finds who
approved (CodePipeline's record of the approval action in this very execution), checks the
package belongs to the pipeline's group and is still awaiting approval, and only then marks it
Approved with a description naming the approver and the time. Nothing else in the system sets
Approved; this module decides, guardrails/handlers/approval.py does the calls.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

APPROVAL_STAGE = "Approve"  # the pipeline stage holding both actions below
APPROVAL_ACTION = "Approve"  # CodePipeline's manual approval
MARK_APPROVED_ACTION = "MarkApproved"  # the Lambda action that sets Approved
# Marks packages the pipeline approved, so the package-state handler leaves their rollout to
# the pipeline's own deploy stages.
PIPELINE_APPROVAL_PREFIX = "Approved in pipeline "
MODEL_PACKAGE_ARN = re.compile(
    r"^arn:aws[a-z-]*:sagemaker:[a-z0-9-]+:\d{12}:model-package/[A-Za-z0-9-]{1,63}/\d+$"
)
_DESCRIPTION_LIMIT = 1024  # ApprovalDescription's maximum length


class ApprovalRefused(ValueError):
    """The package must not be approved; the message tells the pipeline why."""


@dataclass(frozen=True, kw_only=True)
class JobRequest:
    """The CodePipeline job the approval Lambda was invoked for."""

    job_id: str
    model_package_arn: str


@dataclass(frozen=True, kw_only=True)
class Approval:
    """Who approved the manual approval action of one pipeline execution, and when."""

    approver: str  # IAM ARN of the person who approved
    approved_at: str  # ISO 8601, UTC
    comment: str = ""


def job_id(event: Any) -> str:
    """The job id of a CodePipeline Lambda invoke event; ApprovalRefused when there is none."""
    job = event.get("CodePipeline.job") if isinstance(event, Mapping) else None
    identifier = job.get("id") if isinstance(job, Mapping) else None
    if not isinstance(identifier, str) or not identifier:
        raise ApprovalRefused("event: not a CodePipeline job (no CodePipeline.job.id)")
    return identifier


def parse_job(event: Any) -> JobRequest:
    """The job id and the model package ARN from the action's UserParameters (JSON)."""
    identifier = job_id(event)
    action = event["CodePipeline.job"].get("data", {}).get("actionConfiguration", {})
    configuration = action.get("configuration")
    text = configuration.get("UserParameters") if isinstance(configuration, Mapping) else None
    try:
        parameters = json.loads(text) if isinstance(text, str) else None
    except json.JSONDecodeError:
        parameters = None
    if not isinstance(parameters, Mapping):
        raise ApprovalRefused("UserParameters: must be a JSON object with model_package_arn")
    arn = parameters.get("model_package_arn")
    if not isinstance(arn, str) or not MODEL_PACKAGE_ARN.match(arn):
        raise ApprovalRefused(
            f"UserParameters.model_package_arn: not a versioned model package ARN ({arn!r})"
        )
    return JobRequest(job_id=identifier, model_package_arn=arn)


def approval_from_state(
    state: Mapping[str, Any],
    *,
    execution_id: str,
    stage: str = APPROVAL_STAGE,
    action: str = APPROVAL_ACTION,
) -> Approval:
    """Who approved, from GetPipelineState, checked to belong to this pipeline execution."""
    stage_state = _named(state.get("stageStates", []), "stageName", stage)
    if stage_state is None:
        raise ApprovalRefused(f"the pipeline has no {stage!r} stage to take the approval from")
    stage_execution = stage_state.get("latestExecution", {}).get("pipelineExecutionId")
    if stage_execution != execution_id:
        raise ApprovalRefused(
            f"stage {stage!r} last ran in execution {stage_execution}, not {execution_id}: "
            "the approval cannot be attributed"
        )
    action_state = _named(stage_state.get("actionStates", []), "actionName", action)
    latest = (action_state or {}).get("latestExecution", {})
    if latest.get("status") != "Succeeded":
        raise ApprovalRefused(
            f"action {action!r} is {latest.get('status', 'missing')}, not approved"
        )
    approver = latest.get("lastUpdatedBy")
    if not isinstance(approver, str) or not approver.strip():
        raise ApprovalRefused(f"action {action!r} records no approver: refusing to approve")
    changed = latest.get("lastStatusChange")
    if isinstance(changed, datetime):
        approved_at = changed.isoformat()
    elif isinstance(changed, str) and changed:
        approved_at = changed
    else:
        raise ApprovalRefused(f"action {action!r} records no approval time: refusing to approve")
    return Approval(approver=approver, approved_at=approved_at, comment=latest.get("summary") or "")


def _named(items: Any, key: str, name: str) -> Mapping[str, Any] | None:
    for item in items if isinstance(items, list) else []:
        if isinstance(item, Mapping) and item.get(key) == name:
            return item
    return None


def check_package(package: Mapping[str, Any], *, group_name: str) -> bool:
    """ApprovalRefused unless the package may be approved; True when it already is."""
    arn = package.get("ModelPackageArn", "?")
    group = package.get("ModelPackageGroupName")
    if group != group_name:
        raise ApprovalRefused(
            f"model package {arn} belongs to group {group!r}, not to this pipeline's {group_name!r}"
        )
    status = package.get("ModelApprovalStatus")
    if status == "Rejected":
        why = package.get("ApprovalDescription") or "no reason given"
        raise ApprovalRefused(
            f"model package {arn} was rejected ({why}): the pipeline never approves a rejected "
            "package"
        )
    if package.get("ModelPackageStatus", "Completed") != "Completed":
        raise ApprovalRefused(
            f"model package {arn} is {package.get('ModelPackageStatus')}, not Completed"
        )
    if status == "Approved":
        return True
    if status != "PendingManualApproval":
        raise ApprovalRefused(f"model package {arn} is {status!r}, not PendingManualApproval")
    return False


def approval_description(approval: Approval, *, pipeline_name: str, execution_id: str) -> str:
    """The ApprovalDescription recorded on the package: who, when, where, and their comment."""
    text = (
        f"{PIPELINE_APPROVAL_PREFIX}{pipeline_name} execution {execution_id} "
        f"by {approval.approver} at {approval.approved_at}"
    )
    if approval.comment:
        text += f": {approval.comment}"
    return text[:_DESCRIPTION_LIMIT]


def approved_by_pipeline(description: str | None) -> bool:
    """True when the pipeline's approval step wrote this ApprovalDescription."""
    return bool(description) and str(description).startswith(PIPELINE_APPROVAL_PREFIX)
