"""Model package state changes: what each one means for the endpoints, and doing it once.

EventBridge sends "SageMaker Model Package State Change" for the pipeline's group, possibly more
than once per change. The handler (guardrails/handlers/package_state.py):

- claims the change in the deployment table (conditional write keyed by package ARN, status
  and change time), so a repeated event does nothing;
- Approved outside the pipeline (SageMaker console): starts the release state machine, which
  runs the guarded rollout of every deploy environment in order, like the pipeline's stages;
- Approved by the pipeline: nothing, the pipeline's deploy stages roll it out;
- Rejected while an endpoint serves it: rolls each such endpoint back to the newest package
  still Approved, through the guarded rollout, and tells on-call; with no Approved package
  left, only tells on-call.

Item layout beside guardrails/records.py's: pk=PACKAGE#<arn>, sk=CHANGE#<status>#<changed at>.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from guardrails.approval import MODEL_PACKAGE_ARN, approved_by_pipeline
from guardrails.records import now_iso

DETAIL_TYPE = "SageMaker Model Package State Change"
APPROVED, REJECTED = "Approved", "Rejected"
CLAIM_DAYS = 90  # how long a handled change is remembered (table TTL)

IGNORE, RELEASE, ROLLBACK, ALERT = "ignore", "release", "rollback", "alert"

GROUP_NAME = "MODEL_PACKAGE_GROUP_NAME"
TABLE_NAME = "DEPLOYMENT_TABLE_NAME"
RELEASE_STATE_MACHINE_ARN = "RELEASE_STATE_MACHINE_ARN"
TOPIC_ARN = "ON_CALL_TOPIC_ARN"
DEPLOY_TARGETS = "DEPLOY_TARGETS"  # JSON list of {environment, endpoint_name, state_machine_arn}


class PackageEventError(ValueError):
    """An event or setting is unusable; the message names the field."""


@dataclass(frozen=True, kw_only=True)
class DeployTarget:
    """One environment the pipeline deploys to, in order."""

    environment: str
    endpoint_name: str
    state_machine_arn: str  # its guarded rollout


@dataclass(frozen=True, kw_only=True)
class PackageEventSettings:
    """The package-state handler's settings, from environment variables CDK sets."""

    group_name: str
    table_name: str
    release_state_machine_arn: str
    topic_arn: str
    targets: tuple[DeployTarget, ...]


@dataclass(frozen=True, kw_only=True)
class PackageChange:
    """One model package approval-status change, as EventBridge reported it."""

    model_package_arn: str
    group_name: str
    status: str
    changed_at: str  # the package's LastModifiedTime, else the event time
    changed_by: str = "unknown"

    @property
    def key(self) -> dict[str, str]:
        """The claim's table key: one item per package, status and change time."""
        return {
            "pk": f"PACKAGE#{self.model_package_arn}",
            "sk": f"CHANGE#{self.status}#{self.changed_at}",
        }

    def execution_name(self, environment: str) -> str:
        """A Step Functions execution name unique to this change and environment (idempotent)."""
        digest = hashlib.sha256(f"{self.key}{environment}".encode()).hexdigest()[:16]
        version = self.model_package_arn.rsplit("/", 1)[-1]
        return f"{self.status.lower()}-v{version}-{environment}-{digest}"[:80]


@dataclass(frozen=True, kw_only=True)
class Response:
    """What to do about a change."""

    action: str  # IGNORE, RELEASE, ROLLBACK or ALERT
    reason: str
    deploy_package_arn: str = ""  # RELEASE: the approved package; ROLLBACK: the rollback target
    environments: tuple[str, ...] = ()  # ROLLBACK: where the rejected package serves


def load_settings(environ: Mapping[str, str]) -> PackageEventSettings:
    """Settings from the Lambda environment; PackageEventError names a missing variable."""
    values = {}
    for name in (GROUP_NAME, TABLE_NAME, RELEASE_STATE_MACHINE_ARN, TOPIC_ARN, DEPLOY_TARGETS):
        value = environ.get(name, "")
        if not value.strip():
            raise PackageEventError(f"{name}: required environment variable is missing or empty")
        values[name] = value
    try:
        raw_targets = json.loads(values[DEPLOY_TARGETS])
    except json.JSONDecodeError as error:
        raise PackageEventError(f"{DEPLOY_TARGETS}: not valid JSON ({error.msg})") from None
    if not isinstance(raw_targets, list):
        raise PackageEventError(f"{DEPLOY_TARGETS}: must be a JSON list")
    targets = []
    for index, item in enumerate(raw_targets):
        fields = ("environment", "endpoint_name", "state_machine_arn")
        if not isinstance(item, Mapping) or not all(
            isinstance(item.get(f), str) and item.get(f) for f in fields
        ):
            raise PackageEventError(f"{DEPLOY_TARGETS}[{index}]: needs {', '.join(fields)}")
        targets.append(DeployTarget(**{f: item[f] for f in fields}))
    return PackageEventSettings(
        group_name=values[GROUP_NAME],
        table_name=values[TABLE_NAME],
        release_state_machine_arn=values[RELEASE_STATE_MACHINE_ARN],
        topic_arn=values[TOPIC_ARN],
        targets=tuple(targets),
    )


def parse_change(event: Any) -> PackageChange:
    """The change an EventBridge event reports; PackageEventError names a missing field."""
    if not isinstance(event, Mapping) or event.get("detail-type") != DETAIL_TYPE:
        raise PackageEventError(f"detail-type: expected {DETAIL_TYPE!r}")
    detail = event.get("detail")
    if not isinstance(detail, Mapping):
        raise PackageEventError("detail: must be an object")
    arn = detail.get("ModelPackageArn")
    if not isinstance(arn, str) or not MODEL_PACKAGE_ARN.match(arn):
        raise PackageEventError(f"detail.ModelPackageArn: not a model package ARN ({arn!r})")
    status = detail.get("ModelApprovalStatus")
    if not isinstance(status, str) or not status:
        raise PackageEventError("detail.ModelApprovalStatus: missing")
    changed_at = detail.get("LastModifiedTime") or event.get("time")
    if not changed_at:
        raise PackageEventError("detail.LastModifiedTime: missing, and the event has no time")
    return PackageChange(
        model_package_arn=arn,
        group_name=str(detail.get("ModelPackageGroupName") or arn.split("/")[-2]),
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


def plan_response(
    change: PackageChange,
    *,
    group_name: str,
    current_status: str,
    approval_description: str | None,
    serving_environments: Iterable[str] = (),
    rollback_package_arn: str | None = None,
) -> Response:
    """What a change calls for, given the package's current state and who serves it."""
    arn = change.model_package_arn
    if change.group_name != group_name:
        return Response(action=IGNORE, reason=f"{arn} is not in group {group_name}")
    if current_status != change.status:
        return Response(
            action=IGNORE,
            reason=f"{arn} is {current_status} now; the {change.status} event is stale",
        )
    if change.status == APPROVED:
        if approved_by_pipeline(approval_description):
            return Response(action=IGNORE, reason="approved in the pipeline, which deploys it")
        return Response(
            action=RELEASE,
            reason=f"{arn} was approved outside the pipeline by {change.changed_by}",
            deploy_package_arn=arn,
        )
    if change.status != REJECTED:
        return Response(action=IGNORE, reason=f"{change.status} needs no action")
    serving = tuple(serving_environments)
    if not serving:
        return Response(action=IGNORE, reason=f"rejected {arn} serves no endpoint")
    if not rollback_package_arn:
        return Response(
            action=ALERT,
            reason=f"rejected {arn} still serves in {', '.join(serving)} and no Approved package "
            "is left to roll back to: roll back by hand or approve a known-good package",
            environments=serving,
        )
    return Response(
        action=ROLLBACK,
        reason=f"rejected {arn} serves in {', '.join(serving)}: rolling back to "
        f"{rollback_package_arn}",
        deploy_package_arn=rollback_package_arn,
        environments=serving,
    )


def claim_change(table: Any, change: PackageChange, *, event_id: str = "") -> bool:
    """Record the change as being handled; False when an earlier delivery already did."""
    try:
        table.put_item(
            Item={
                **change.key,
                "model_package_arn": change.model_package_arn,
                "status": change.status,
                "changed_by": change.changed_by,
                "event_id": event_id,
                "claimed_at": now_iso(),
                "expires_at": int(time.time()) + CLAIM_DAYS * 86400,
            },
            ConditionExpression="attribute_not_exists(pk)",
        )
    except ClientError as error:
        if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise
        return False
    return True


def release_claim(table: Any, change: PackageChange) -> None:
    """Forget a claim whose handling failed, so EventBridge's retry can handle it."""
    table.delete_item(Key=change.key)


def record_response(table: Any, change: PackageChange, response: Response) -> None:
    """Write down what was done about the change, next to its claim."""
    table.update_item(
        Key=change.key,
        UpdateExpression="SET #action = :action, #reason = :reason, handled_at = :at",
        ExpressionAttributeNames={"#action": "action", "#reason": "reason"},
        ExpressionAttributeValues={
            ":action": response.action,
            ":reason": response.reason,
            ":at": now_iso(),
        },
    )


def latest_approved_package(sagemaker: Any, group_name: str, *, excluding: str = "") -> str | None:
    """The newest Approved package of the group other than `excluding`, or None."""
    response = sagemaker.list_model_packages(
        ModelPackageGroupName=group_name,
        ModelApprovalStatus=APPROVED,
        SortBy="CreationTime",
        SortOrder="Descending",
        MaxResults=10,
    )
    for summary in response.get("ModelPackageSummaryList", []):
        if summary["ModelPackageArn"] != excluding:
            arn: str = summary["ModelPackageArn"]
            return arn
    return None


def mark_approved(sagemaker: Any, model_package_arn: str, description: str) -> None:
    """Set the package Approved: the only call in the system that does."""
    sagemaker.update_model_package(
        ModelPackageArn=model_package_arn,
        ModelApprovalStatus=APPROVED,
        ApprovalDescription=description,
    )


def served_packages(sagemaker: Any, endpoint_name: str) -> set[str]:
    """The model package ARNs behind every variant (shadow included) of the endpoint."""
    try:
        endpoint = sagemaker.describe_endpoint(EndpointName=endpoint_name)
    except ClientError as error:
        if _not_found(error):
            return set()
        raise
    config = sagemaker.describe_endpoint_config(EndpointConfigName=endpoint["EndpointConfigName"])
    variants = config.get("ProductionVariants", []) + config.get("ShadowProductionVariants", [])
    packages: set[str] = set()
    for model_name in {variant["ModelName"] for variant in variants if "ModelName" in variant}:
        model = sagemaker.describe_model(ModelName=model_name)
        containers = [model.get("PrimaryContainer") or {}, *model.get("Containers", [])]
        packages.update(c["ModelPackageName"] for c in containers if c.get("ModelPackageName"))
    return packages


def _not_found(error: ClientError) -> bool:
    message = str(error.response.get("Error", {}).get("Message", ""))
    return error.response.get("Error", {}).get("Code") == "ValidationException" and (
        "Could not find" in message or "does not exist" in message
    )


def rollout_input(model_package_arn: str, *, started_by: str, reason: str) -> str:
    """The rollout state machine's input."""
    return json.dumps(
        {"model_package_arn": model_package_arn, "started_by": started_by, "reason": reason}
    )


def start_execution(stepfunctions: Any, state_machine_arn: str, name: str, payload: str) -> str:
    """Start a state machine; a repeat with the same name and input is the same execution."""
    try:
        response = stepfunctions.start_execution(
            stateMachineArn=state_machine_arn, name=name, input=payload
        )
    except ClientError as error:
        if error.response["Error"]["Code"] != "ExecutionAlreadyExists":
            raise
        return f"{state_machine_arn.replace(':stateMachine:', ':execution:')}:{name}"
    arn: str = response["executionArn"]
    return arn


def notify(sns: Any, topic_arn: str, *, subject: str, text: str) -> None:
    """Tell on-call."""
    sns.publish(TopicArn=topic_arn, Subject=subject[:100], Message=text)
