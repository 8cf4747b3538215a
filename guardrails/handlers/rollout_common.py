"""What the rollout handlers share: Powertools, settings read once, and the AWS seams."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache

from aws_lambda_powertools import Logger, Metrics, Tracer
from botocore.exceptions import ClientError

from guardrails.rollout.context import RolloutContext
from guardrails.rollout.state import TransientError
from guardrails.services import clients
from guardrails.services.cloudwatch import CloudWatchSeam
from guardrails.services.sagemaker import SageMakerSeam
from guardrails.services.sns import Notifier
from guardrails.settings import load_settings

SERVICE = "rollout"
NAMESPACE = "Guardrails"

logger = Logger(service=SERVICE)
tracer = Tracer(service=SERVICE)
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)

# Errors botocore already retried that are still worth another go after a pause.
_TRANSIENT_CODES = {
    "ThrottlingException",
    "Throttling",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "ProvisionedThroughputExceededException",
    "ServiceUnavailable",
    "InternalFailure",
    "InternalServerError",
}


@cache
def rollout_context() -> RolloutContext:
    """Settings and seams, built once per Lambda container."""
    settings = load_settings(os.environ)
    return RolloutContext(
        settings=settings,
        sagemaker=SageMakerSeam(clients.client("sagemaker"), clients.client("sagemaker-runtime")),
        cloudwatch=CloudWatchSeam(clients.client("cloudwatch")),
        notifier=Notifier(clients.client("sns"), settings.topic_arn),
        table=clients.table(settings.table_name),
    )


@contextmanager
def transient_errors() -> Iterator[None]:
    """Throttling that outlasted botocore's retries, as TransientError for Step Functions."""
    try:
        yield
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        if code in _TRANSIENT_CODES:
            raise TransientError(str(error)) from error
        raise
