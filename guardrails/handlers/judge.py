"""Rollout step "Judge": metrics of both fleets -> verdict -> what the state machine does next."""

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
    with transient_errors():
        state = steps.judge(state, rollout_context())
    metrics.add_metric(name="JudgeRounds", unit=MetricUnit.Count, value=1)
    tracer.put_annotation(key="action", value=state.action)
    logger.info("judged", extra={"action": state.action, "reason": state.note})
    return state.to_event()
