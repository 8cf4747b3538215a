"""EventBridge: a rollout execution timed out or was aborted, so no Catch ran: clean up.

A timed-out rollout is treated like a failure (the candidate is stopped, on-call told it was
stuck); an aborted one was stopped by an operator, so the endpoint is left as it is.
"""

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

ENDED = {"TIMED_OUT": "States.Timeout", "ABORTED": "ExecutionAborted"}


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, str]:
    detail = event.get("detail")
    if not isinstance(detail, Mapping) or detail.get("status") not in ENDED:
        raise EventError("detail.status: expected a TIMED_OUT or ABORTED execution event")
    name, status = str(detail.get("name", "")), detail["status"]
    if not name:
        raise EventError("detail.name: required (the execution name is the deployment id)")
    logger.append_keys(deployment_id=name)
    error = {"Error": ENDED[status], "Cause": f"the rollout execution ended {status}"}
    timed_out = status == "TIMED_OUT"
    with transient_errors():
        summary = ending.record_failure(
            {"error": error},
            deployment_id=name,
            ctx=rollout_context(),
            protect=timed_out,
            stuck=timed_out,
        )
    metrics.add_metric(
        name=f"Rollouts{status.title().replace('_', '')}", unit=MetricUnit.Count, value=1
    )
    return summary
