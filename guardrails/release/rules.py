"""The release rules: who may approve a package, and what a package state change calls for.

Pure: no AWS calls. guardrails/release/steps.py gathers the facts and acts on the answers.

Approval. The approval Lambda runs right after CodePipeline's manual approval action. It finds
who approved (CodePipeline's record of the approval action in this very execution), checks the
package belongs to the pipeline's group and is awaiting approval, releases its artifacts
(guardrails/release/artifacts.py) and only then marks it Approved, with a description naming the
approver and the time and the release record (guardrails/release/record.py) in the same call.
Nothing else in the system may set Approved (only its role may UpdateModelPackage).

Package state changes. EventBridge sends "SageMaker Model Package State Change" for the
pipeline's group:
- Approved by the approval step (it carries the release record): nothing, the pipeline's deploy
  stages roll it out;
- Approved any other way (the SageMaker console, an API call): refused, and on-call is told how
  to release a model properly; no rollout would take it anyway (no record, nothing released);
- Rejected while an endpoint serves it: roll each such endpoint back to the newest package still
  Approved and released, through the guarded rollout, and tell on-call; with none left, only
  tell on-call.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

APPROVAL_STAGE = "Approve"  # the pipeline stage holding both actions below
APPROVAL_ACTION = "Approve"  # CodePipeline's manual approval
MARK_APPROVED_ACTION = "MarkApproved"  # the Lambda action that sets Approved
# The approval before the first production environment, on the previous one's evidence: a
# Lambda action sends the evidence, the manual approval, then the approval step's function
# records the approver on the package (names within the stage Approve-<environment>).
EVIDENCE_ACTION = "Evidence"
RECORD_APPROVAL_ACTION = "RecordApproval"
# How the approval step's ApprovalDescription starts, for people reading the registry; the
# release path trusts the release record, which only the approval step can write.
PIPELINE_APPROVAL_PREFIX = "Approved in pipeline "
APPROVED, REJECTED, PENDING = "Approved", "Rejected", "PendingManualApproval"
_DESCRIPTION_LIMIT = 1024  # ApprovalDescription's maximum length

# The EventBridge detail-type of a model package approval or rejection.
DETAIL_TYPE = "SageMaker Model Package State Change"


class ApprovalRefused(ValueError):
    """The package must not be approved; the message tells the pipeline why."""


@dataclass(frozen=True, kw_only=True)
class Approval:
    """Who approved the manual approval action of one pipeline execution, and when."""

    approver: str  # IAM ARN of the person who approved
    approved_at: str  # ISO 8601, UTC
    comment: str = ""


def promotion_stage(environment: str) -> str:
    """The stage that approves a rollout to `environment` on the previous one's evidence."""
    return f"{APPROVAL_STAGE}-{environment}"


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
    if status == REJECTED:
        why = package.get("ApprovalDescription") or "no reason given"
        raise ApprovalRefused(
            f"model package {arn} was rejected ({why}): the pipeline never approves a rejected "
            "package"
        )
    if package.get("ModelPackageStatus", "Completed") != "Completed":
        raise ApprovalRefused(
            f"model package {arn} is {package.get('ModelPackageStatus')}, not Completed"
        )
    if status == APPROVED:
        return True
    if status != PENDING:
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


# --------------------------------------------------------------------------- state changes

IGNORE, REFUSE, ROLLBACK, ALERT = "ignore", "refuse", "rollback", "alert"


@dataclass(frozen=True, kw_only=True)
class PackageChange:
    """One model package approval-status change, as EventBridge reported it."""

    model_package_arn: str
    group_name: str
    status: str
    changed_at: str  # the package's LastModifiedTime, else the event time
    changed_by: str = "unknown"


@dataclass(frozen=True, kw_only=True)
class Response:
    """What to do about a change."""

    action: str  # IGNORE, REFUSE, ROLLBACK or ALERT
    reason: str
    deploy_package_arn: str = ""  # ROLLBACK: the rollback target
    environments: tuple[str, ...] = ()  # ROLLBACK: where the rejected package serves


def plan_response(
    change: PackageChange,
    *,
    group_name: str,
    current_status: str,
    release_problem: str | None,
    serving_environments: Iterable[str] = (),
    rollback_package_arn: str | None = None,
    unreachable_environments: Mapping[str, str] | None = None,
) -> Response:
    """What a change calls for, given the package's current state and who serves it.

    `release_problem` is why the package may not be released (record.NotReleased), or None
    when the approval step approved and released it. `unreachable_environments` maps the
    deploy environments whose endpoint could not be looked at to why: a rejection is rolled
    back where it is seen to serve, and on-call is told to look at the others.
    """
    arn = change.model_package_arn
    if change.group_name != group_name:
        return Response(action=IGNORE, reason=f"{arn} is not in group {group_name}")
    if current_status != change.status:
        return Response(
            action=IGNORE,
            reason=f"{arn} is {current_status} now; the {change.status} event is stale",
        )
    if change.status == APPROVED:
        if release_problem is None:
            return Response(action=IGNORE, reason="approved in the pipeline, which deploys it")
        return Response(
            action=REFUSE,
            reason=f"Not released (approved by {change.changed_by}): {release_problem}",
        )
    if change.status != REJECTED:
        return Response(action=IGNORE, reason=f"{change.status} needs no action")
    serving = tuple(serving_environments)
    unreachable = dict(unreachable_environments or {})
    # Never silence an environment nobody could look at: it may serve the rejected model.
    unseen = "".join(
        f"; could not check whether it serves in {env} ({why}): check it by hand "
        f"(guardrails status --env {env})"
        for env, why in unreachable.items()
    )
    if not serving:
        if unreachable:
            return Response(action=ALERT, reason=f"rejected {arn} serves no endpoint seen{unseen}")
        return Response(action=IGNORE, reason=f"rejected {arn} serves no endpoint")
    if not rollback_package_arn:
        return Response(
            action=ALERT,
            reason=f"rejected {arn} still serves in {', '.join(serving)} and no Approved, "
            "released package is left to roll back to: roll back by hand (guardrails rollback) "
            f"or approve a known-good model in the pipeline{unseen}",
            environments=serving,
        )
    return Response(
        action=ROLLBACK,
        reason=f"rejected {arn} serves in {', '.join(serving)}: rolling back to "
        f"{rollback_package_arn}{unseen}",
        deploy_package_arn=rollback_package_arn,
        environments=serving,
    )


SUBJECTS = {
    REFUSE: "Guardrails: model approved outside the pipeline, not released",
    ROLLBACK: "Guardrails: rejected model, rolling back",
    ALERT: "Guardrails: rejected model still serving, act now",
}
