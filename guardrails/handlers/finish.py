"""Rollout steps "FinishPromotion" and "FinishRollback": verify, end the record, unlock, notify."""

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
from guardrails.rollout.state import EventError, step_state


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    state = step_state(event)
    expected = event.get("expected")
    if not isinstance(expected, str):
        raise EventError("expected: must be promote or rollback")
    logger.append_keys(deployment_id=state.deployment_id)
    with transient_errors():
        state = ending.finish(state, expected, rollout_context())
    metrics.add_metric(
        name=f"Rollouts{state.result.title().replace('_', '')}", unit=MetricUnit.Count, value=1
    )
    logger.info("rollout ended", extra={"result": state.result, "reason": state.note})
    return state.to_event()
