"""Return an endpoint to an earlier endpoint config: the rollout's last step, the CLI's command.

Idempotent: when the endpoint already serves the target (SageMaker rolled back by itself, or a
rollback ran before) nothing changes and the result says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from guardrails import records
from guardrails.notifications import ROLLBACK_REQUESTED, RolloutEvent
from guardrails.services.sagemaker import SageMakerSeam
from guardrails.services.sns import Notifier


class RollbackRefused(ValueError):
    """The rollback cannot be done as asked; the message says why."""


class EndpointBusy(RollbackRefused):
    """SageMaker is still changing the endpoint; try again once it is InService."""


@dataclass(frozen=True)
class RollbackResult:
    """What a rollback found and did."""

    endpoint_name: str
    target_config: str
    previous_config: str  # what the endpoint served when the rollback began
    changed: bool  # False: it already served the target
    message: str


def rollback_endpoint(
    *,
    sagemaker: SageMakerSeam,
    table: Any,
    notifier: Notifier | None,
    endpoint_name: str,
    target_config: str | None,
    decided_by: str,
    reason: str,
    force: bool = False,
    deployment_id: str | None = None,
    environment: str = "",
    region: str = "",
) -> RollbackResult:
    """UpdateEndpoint to `target_config` (None: the newest record's previous_endpoint_config).

    Refuses (RollbackRefused) when the target does not exist, or when a rollout other than
    `deployment_id` holds the endpoint's lock and `force` is not set; raises EndpointBusy while
    SageMaker is updating the endpoint. The update carries no DeploymentConfig on purpose: the
    rollback alarms that are firing must not roll the rollback back. The variants keep the
    instance count the endpoint has now (autoscaling's), not the older config's.
    """
    if not reason.strip():
        raise RollbackRefused("reason: say why the endpoint is rolled back")
    newest = records.latest_deployment(table, endpoint_name)
    record = records.get_deployment(table, deployment_id) if deployment_id else newest
    if target_config is None:
        if record is None:
            raise RollbackRefused(
                f"endpoint {endpoint_name} has no deployment record: name the endpoint config "
                "to roll back to"
            )
        target_config = record.previous_endpoint_config
        if not target_config:
            raise RollbackRefused(
                f"deployment {record.deployment_id} was the first deploy of {endpoint_name}: "
                "there is no earlier endpoint config to roll back to"
            )
    lock = records.current_lock(table, endpoint_name)
    if lock and lock.get("deployment_id") != deployment_id and not force:
        raise RollbackRefused(
            f"endpoint {endpoint_name} is being rolled out by {lock.get('deployment_id')} "
            f"(started by {lock.get('started_by')} at {lock.get('acquired_at')}); wait for it, "
            "or force the rollback"
        )
    if sagemaker.endpoint_config(target_config) is None:
        raise RollbackRefused(f"endpoint config {target_config} does not exist")
    endpoint = sagemaker.describe_endpoint(endpoint_name)
    if endpoint.busy:
        raise EndpointBusy(
            f"endpoint {endpoint_name} is {endpoint.describe()}; rolling back once it is InService"
        )
    if endpoint.config_name == target_config and endpoint.in_service:
        changed = False
        message = (
            f"endpoint {endpoint_name} already serves {target_config}: nothing to roll back "
            "(SageMaker rolled back by itself, or a rollback ran before)"
        )
    else:
        sagemaker.update_endpoint(
            endpoint_name, target_config, deployment_config=None, keep_instance_counts=True
        )
        changed = True
        message = (
            f"endpoint {endpoint_name}: rollback from {endpoint.config_name} to "
            f"{target_config} started"
        )
    result = RollbackResult(
        endpoint_name=endpoint_name,
        target_config=target_config,
        previous_config=endpoint.config_name,
        changed=changed,
        message=message,
    )
    _record(
        table, record, result, decided_by=decided_by, reason=reason, by_rollout=bool(deployment_id)
    )
    if notifier is not None:
        notifier.notify(
            RolloutEvent(
                kind=ROLLBACK_REQUESTED,
                environment=environment or (record.environment if record else ""),
                region=region,
                endpoint_name=endpoint_name,
                deployment_id=record.deployment_id if record else "",
                model_package_arn=record.model_package_arn if record else "",
                strategy=record.strategy if record else "",
                started_by=decided_by,
                previous_config=target_config,
                serving_config=endpoint.config_name,
                decision="rollback",
                reason=f"{reason} ({message})",
                at=records.now_iso(),
            )
        )
    return result


def _record(
    table: Any,
    record: records.DeploymentRecord | None,
    result: RollbackResult,
    *,
    decided_by: str,
    reason: str,
    by_rollout: bool,
) -> None:
    """Write the decision on the deployment it concerns (the newest, for an operator)."""
    deployment_id = record.deployment_id if record else f"manual-{result.endpoint_name}"
    records.add_decision(
        table,
        deployment_id=deployment_id,
        decision="rollback",
        reason=reason,
        decided_by=decided_by,
        details={
            "target_config": result.target_config,
            "previous_config": result.previous_config,
            "changed": result.changed,
            "message": result.message,
        },
    )
    # An operator's rollback to a deployment's own rollback target ends that deployment; the
    # state machine's rollback is finished (and verified) by its Finish step instead.
    if (
        not by_rollout
        and record is not None
        and record.previous_endpoint_config == result.target_config
        and record.status != records.STATUS_ROLLED_BACK
    ):
        records.update_deployment(
            table,
            record,
            status=records.STATUS_ROLLED_BACK,
            reason=f"rolled back by {decided_by}: {reason}",
        )
