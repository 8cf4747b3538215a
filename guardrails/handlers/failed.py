"""Rollout step "RecordFailure": whatever failed, protect the endpoint, record, unlock, notify."""

from __future__ import annotations

from collections.abc import Mapping
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
from guardrails.rollout.state import EventError


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, str]:
    deployment_id = event.get("deployment_id")
    raw_state = event.get("rollout")
    if not isinstance(deployment_id, str) or not deployment_id:
        raise EventError("deployment_id: required (the execution name)")
    if not isinstance(raw_state, Mapping):
        raise EventError("rollout: must be an object")
    logger.append_keys(deployment_id=deployment_id)
    with transient_errors():
        summary = ending.record_failure(
            raw_state, deployment_id=deployment_id, ctx=rollout_context()
        )
    metrics.add_metric(name="RolloutsFailed", unit=MetricUnit.Count, value=1)
    logger.error("rollout failed", extra=summary)
    return summary
