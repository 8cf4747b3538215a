"""Rollout step "Start": take the endpoint's lock and record the rollout before any change."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from guardrails.handlers.rollout_common import (
    logger,
    metrics,
    rollout_context,
    tracer,
    transient_errors,
)
from guardrails.rollout import steps
from guardrails.rollout.state import StartRequest


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = StartRequest.parse(event)
    logger.append_keys(deployment_id=request.deployment_id)
    with transient_errors():
        state = steps.start(request, rollout_context())
    metrics.add_metric(name="RolloutsStarted", unit=MetricUnit.Count, value=1)
    logger.info("rollout started", extra={"rollback_target": state.previous_config})
    return state.to_event()
