"""The endpoint stack's custom resource handler (`guardrails.endpoint.handler.on_event`).

CDK's Provider framework calls it with CloudFormation's request. It reads what the endpoint,
its lock and its autoscaling look like, lets `reconcile.decide` choose, and acts: records and
tells on-call when it leaves the endpoint alone, starts the rollout when the shape changed,
deletes the endpoint when a non-production stack is deleted. It never waits for SageMaker.
The physical id is the endpoint's name, the same on every update, so CloudFormation never
mistakes an update for a replacement (which would send a Delete for the "old" resource).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import ClientError

from guardrails import records
from guardrails.endpoint import reconcile
from guardrails.endpoint.settings import (
    ENDPOINT_NAME_PROPERTY,
    ENDPOINT_SETTINGS_PROPERTY,
    PRODUCTION_PROPERTY,
    SERVING_MODEL_PROPERTY,
    STATE_MACHINE_ARN,
)
from guardrails.notifications import DEPLOY_LEFT, RolloutEvent
from guardrails.observability import count, instrumented, logger
from guardrails.rollout.context import to_iso, utc_now
from guardrails.rollout.serving import ServingModel
from guardrails.rollout.settings import (
    ENVIRONMENT,
    REGION,
    TABLE_NAME,
    TOPIC_ARN,
    EndpointSettings,
)
from guardrails.rollout.state import EventError
from guardrails.services import clients
from guardrails.services.autoscaling import AutoscalingSeam
from guardrails.services.errors import error_code, transient_errors
from guardrails.services.sagemaker import SageMakerSeam
from guardrails.services.sns import Notifier
from guardrails.services.stepfunctions import StepFunctionsSeam
from guardrails.validation import ConfigError, env_text, from_mapping, json_document


@dataclass(frozen=True, kw_only=True)
class ReconcileRequest:
    """CloudFormation's request, parsed; EventError names a bad field."""

    request_type: str
    request_id: str
    endpoint_name: str
    production: bool
    serving: ServingModel | None  # not read on Delete
    shape: EndpointSettings | None  # not read on Delete

    @classmethod
    def parse(cls, event: Any) -> ReconcileRequest:
        if not isinstance(event, Mapping):
            raise EventError("event: must be an object")
        request_type = event.get("RequestType")
        if request_type not in reconcile.REQUEST_TYPES:
            raise EventError(
                f"RequestType: must be Create, Update or Delete (got {request_type!r})"
            )
        properties = event.get("ResourceProperties")
        if not isinstance(properties, Mapping):
            raise EventError("ResourceProperties: must be an object")
        endpoint_name = properties.get(ENDPOINT_NAME_PROPERTY)
        if not isinstance(endpoint_name, str) or not endpoint_name:
            raise EventError(f"ResourceProperties.{ENDPOINT_NAME_PROPERTY}: required")
        production = properties.get(PRODUCTION_PROPERTY)
        if production not in ("true", "false"):
            raise EventError(f"ResourceProperties.{PRODUCTION_PROPERTY}: must be true or false")
        serving = shape = None
        if request_type != reconcile.DELETE:
            serving = ServingModel.parse(
                properties.get(SERVING_MODEL_PROPERTY),
                path=f"ResourceProperties.{SERVING_MODEL_PROPERTY}",
            )
            shape = _shape(properties.get(ENDPOINT_SETTINGS_PROPERTY))
        return cls(
            request_type=request_type,
            request_id=str(event.get("RequestId") or ""),
            endpoint_name=endpoint_name,
            production=production == "true",
            serving=serving,
            shape=shape,
        )


def _shape(text: Any) -> EndpointSettings:
    path = f"ResourceProperties.{ENDPOINT_SETTINGS_PROPERTY}"
    raw = json_document(text)
    if not isinstance(raw, Mapping):
        raise EventError(f"{path}: must be EndpointSettings as a JSON object")
    try:
        return from_mapping(EndpointSettings, raw, path=path)
    except ConfigError as error:
        raise EventError(str(error)) from None


@dataclass(frozen=True, kw_only=True)
class ReconcileContext:
    """The seams and names the handler acts through; tests build one over moto."""

    environment: str
    region: str
    state_machine_arn: str
    sagemaker: SageMakerSeam
    autoscaling: AutoscalingSeam
    stepfunctions: StepFunctionsSeam
    notifier: Notifier
    table: Any
    clock: Callable[[], datetime] = field(default=utc_now)


def reconcile_endpoint(request: ReconcileRequest, ctx: ReconcileContext) -> reconcile.Decision:
    """Find the facts, decide, act; the decision (with what was done in its reason)."""
    name = request.endpoint_name
    endpoint = ctx.sagemaker.find_endpoint(name)
    live_config, scaling = None, None
    if request.shape is not None and endpoint is not None:  # Create or Update
        live_config = ctx.sagemaker.endpoint_config(endpoint.config_name)
        scaling = ctx.autoscaling.scaling(name, request.shape.variant_name)
    facts = reconcile.EndpointFacts(
        request_type=request.request_type,
        endpoint_name=name,
        production=request.production,
        serving=request.serving,
        shape=request.shape,
        endpoint=endpoint,
        live_config=live_config,
        scaling=scaling,
        lock=records.current_lock(ctx.table, name),
        now=ctx.clock(),
    )
    decision = reconcile.decide(facts)
    if decision.action == reconcile.RESHAPE:
        assert request.serving is not None and request.shape is not None
        execution = reconcile.execution_name(request.request_id)
        try:
            ctx.stepfunctions.start_execution(
                ctx.state_machine_arn,
                execution,
                json.dumps(
                    reconcile.rollout_input(request.serving, request.shape, decision.reason)
                ),
            )
        except ClientError as error:
            if error_code(error) != "StateMachineDoesNotExist":
                raise
            # The rollout stack comes after this one: on a fresh deploy it may not exist yet.
            held = reconcile.Decision(
                reconcile.HELD,
                f"{decision.reason}, but the rollout state machine {ctx.state_machine_arn} "
                "does not exist yet: deploy the rollout stack, then this stack again",
            )
            _record_and_tell(request, ctx, held)
            return held
        return _noted(decision, f"rollout execution {execution} started; it is not waited for")
    if decision.action == reconcile.REMOVE:
        for variant_name in endpoint.instance_counts if endpoint else {}:
            ctx.autoscaling.deregister(name, variant_name)
        ctx.sagemaker.delete_endpoint(name)
        return _noted(decision, "DeleteEndpoint started")
    if decision.action in (reconcile.LEFT_TO_ROLLOUT, reconcile.HELD):
        _record_and_tell(request, ctx, decision)
    return decision


def _noted(decision: reconcile.Decision, note: str) -> reconcile.Decision:
    return reconcile.Decision(
        decision.action, f"{decision.reason}; {note}", decision.holder, decision.differences
    )


def _record_and_tell(
    request: ReconcileRequest, ctx: ReconcileContext, decision: reconcile.Decision
) -> None:
    """A decision on the lock holder's (or the newest) deployment, and a message to on-call."""
    latest = records.latest_deployment(ctx.table, request.endpoint_name)
    deployment_id = decision.holder or (latest.deployment_id if latest else "")
    if deployment_id:
        records.add_decision(
            ctx.table,
            deployment_id=deployment_id,
            decision=DEPLOY_LEFT,
            reason=decision.reason,
            decided_by=reconcile.STARTED_BY,
            details={
                "request_type": request.request_type,
                "serving_model": request.serving.to_json() if request.serving else None,
            },
        )
    ctx.notifier.notify(
        RolloutEvent(
            kind=DEPLOY_LEFT,
            environment=ctx.environment,
            region=ctx.region,
            endpoint_name=request.endpoint_name,
            deployment_id=deployment_id,
            started_by=reconcile.STARTED_BY,
            reason=decision.reason,
            at=to_iso(ctx.clock()),
        )
    )


@cache
def reconcile_context() -> ReconcileContext:
    """Settings and seams, built once per Lambda container."""
    return ReconcileContext(
        environment=env_text(os.environ, ENVIRONMENT),
        region=os.environ.get(REGION, ""),
        state_machine_arn=env_text(os.environ, STATE_MACHINE_ARN),
        sagemaker=SageMakerSeam(clients.client("sagemaker")),
        autoscaling=AutoscalingSeam(clients.client("application-autoscaling")),
        stepfunctions=StepFunctionsSeam(clients.client("stepfunctions")),
        notifier=Notifier(clients.client("sns"), env_text(os.environ, TOPIC_ARN)),
        table=clients.table(env_text(os.environ, TABLE_NAME)),
    )


@instrumented
def on_event(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """The Provider framework's on_event: the same physical id, the decision as data."""
    request = ReconcileRequest.parse(event)
    with transient_errors():
        decision = reconcile_endpoint(request, reconcile_context())
    count(f"EndpointReconciled{decision.action.title().replace('_', '')}")
    logger.info("endpoint reconciled", extra={"action": decision.action, "reason": decision.reason})
    return {
        "PhysicalResourceId": request.endpoint_name,
        "Data": {"Action": decision.action, "Reason": decision.reason[:1000]},
    }
