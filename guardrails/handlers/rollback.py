"""Rollout step "Rollback": return the endpoint to the recorded previous endpoint config."""

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
from guardrails.rollout import ending
from guardrails.rollout.state import step_state


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    state = step_state(event)
    logger.append_keys(deployment_id=state.deployment_id)
    with transient_errors():
        state = ending.rollback(state, rollout_context())
    metrics.add_metric(name="Rollbacks", unit=MetricUnit.Count, value=1)
    logger.info("rollback under way", extra={"target": state.previous_config})
    return state.to_event()
