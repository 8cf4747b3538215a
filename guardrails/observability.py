"""Powertools for every Lambda handler: one logger, tracer and metrics, applied the same way.

The service name comes from POWERTOOLS_SERVICE_NAME, which CDK sets per function family
("rollout", "release"); metrics go to the project's CloudWatch namespace.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, cast

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit

from guardrails.namespace import NAMESPACE

logger = Logger()
tracer = Tracer()
metrics = Metrics(namespace=NAMESPACE)

Handler = TypeVar("Handler", bound=Callable[..., Any])


def instrumented(handler: Handler) -> Handler:
    """Lambda context in every log line, an X-Ray segment, metrics flushed at the end."""
    wrapped = logger.inject_lambda_context(
        tracer.capture_lambda_handler(metrics.log_metrics(handler))
    )
    return cast(Handler, wrapped)


def count(name: str) -> None:
    """Add one to the metric `name` (flushed when the handler returns)."""
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)
