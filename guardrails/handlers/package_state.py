"""EventBridge "SageMaker Model Package State Change": console approvals and rejections.

An approval made in the SageMaker console starts the release state machine (the guarded rollout
of each deploy environment in order, as the pipeline would); a rejection of a package that is
serving rolls those endpoints back to the newest Approved package and tells on-call. Each change
is handled once however often EventBridge delivers it; see guardrails/package_events.py.
"""

from __future__ import annotations

import os
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from guardrails import package_events as pe
from guardrails.services import clients
from guardrails.services.sagemaker import SageMakerSeam

logger = Logger(service="package-state")


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    try:
        change = pe.parse_change(event)
    except pe.PackageEventError as error:
        logger.error("unusable model package event", extra={"reason": str(error)})
        return {"action": pe.IGNORE, "reason": str(error)}
    settings = pe.load_settings(os.environ)
    if change.group_name != settings.group_name:
        return {"action": pe.IGNORE, "reason": f"not in group {settings.group_name}"}
    table = clients.table(settings.table_name)
    if not pe.claim_change(table, change, event_id=str(event.get("id", ""))):
        logger.info("change already handled", extra={"key": change.key})
        return {"action": pe.IGNORE, "reason": "already handled"}
    try:
        response = respond(change, settings)
        pe.record_response(table, change, response)
    except Exception:
        pe.release_claim(table, change)  # let EventBridge's retry try again
        raise
    logger.info("model package change handled", extra={"response": response.__dict__})
    return {"action": response.action, "reason": response.reason}


def respond(change: pe.PackageChange, settings: pe.PackageEventSettings) -> pe.Response:
    """Look at the package and the endpoints, decide, and act."""
    sagemaker = clients.client("sagemaker")
    package = SageMakerSeam(sagemaker).model_package(change.model_package_arn)
    serving: list[str] = []
    rollback_target = None
    if change.status == pe.REJECTED and package.get("ModelApprovalStatus") == pe.REJECTED:
        serving = [
            t.environment
            for t in settings.targets
            if change.model_package_arn in pe.served_packages(sagemaker, t.endpoint_name)
        ]
        if serving:
            rollback_target = pe.latest_approved_package(
                sagemaker, settings.group_name, excluding=change.model_package_arn
            )
    response = pe.plan_response(
        change,
        group_name=settings.group_name,
        current_status=str(package.get("ModelApprovalStatus")),
        approval_description=package.get("ApprovalDescription"),
        serving_environments=serving,
        rollback_package_arn=rollback_target,
    )
    stepfunctions, sns = clients.client("stepfunctions"), clients.client("sns")
    if response.action == pe.RELEASE:
        pe.start_execution(
            stepfunctions,
            settings.release_state_machine_arn,
            change.execution_name("release"),
            pe.rollout_input(
                response.deploy_package_arn,
                started_by=f"console:{change.changed_by}",
                reason="approved in the SageMaker console",
            ),
        )
    elif response.action == pe.ROLLBACK:
        for target in settings.targets:
            if target.environment in response.environments:
                pe.start_execution(
                    stepfunctions,
                    target.state_machine_arn,
                    change.execution_name(target.environment),
                    pe.rollout_input(
                        response.deploy_package_arn,
                        started_by=f"rejection:{change.changed_by}",
                        reason=f"model package {change.model_package_arn} was rejected",
                    ),
                )
    if response.action != pe.IGNORE:
        subject = {
            pe.RELEASE: "Guardrails: console approval, guarded rollout started",
            pe.ROLLBACK: "Guardrails: rejected model, rolling back",
            pe.ALERT: "Guardrails: rejected model still serving, act now",
        }[response.action]
        pe.notify(sns, settings.topic_arn, subject=subject, text=response.reason)
    return response
