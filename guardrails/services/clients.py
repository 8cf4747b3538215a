"""boto3 clients and resources with standard retries; the only place handlers get AWS from."""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config

# Throttling and transient errors are retried by botocore with backoff, not by our own loops.
RETRY_CONFIG = Config(retries={"mode": "standard", "max_attempts": 8})
# The replay's InvokeEndpoint: one attempt per row (a retried 5xx would be counted twice in the
# endpoint's metrics, and retries would only add load to a failing or throttled endpoint), and
# a read timeout that keeps one slow answer from eating the judge interval.
ONE_ATTEMPT_CONFIG = Config(
    retries={"mode": "standard", "total_max_attempts": 1}, connect_timeout=5, read_timeout=20
)


def client(service: str, *, config: Config = RETRY_CONFIG) -> Any:
    """A boto3 client for `service`, with standard retries unless told otherwise."""
    return boto3.client(service, config=config)  # type: ignore[call-overload]


def table(name: str) -> Any:
    """The DynamoDB table resource `name`, with standard retries."""
    return boto3.resource("dynamodb", config=RETRY_CONFIG).Table(name)
