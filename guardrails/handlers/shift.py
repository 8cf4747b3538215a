"""Rollout steps "ShiftTraffic" and "Promote": the next A/B weight, or the guarded final update."""

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
from guardrails.rollout.state import step_state


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    state = step_state(event)
    logger.append_keys(deployment_id=state.deployment_id)
    action = state.action
    with transient_errors():
        state = steps.shift(state, rollout_context())
    metrics.add_metric(name=f"Traffic{action.capitalize()}", unit=MetricUnit.Count, value=1)
    logger.info(state.note or action)
    return state.to_event()
