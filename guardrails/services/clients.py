"""boto3 clients and resources with standard retries; the only place handlers get AWS from."""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config

# Throttling and transient errors are retried by botocore with backoff, not by our own loops.
RETRY_CONFIG = Config(retries={"mode": "standard", "max_attempts": 8})


def client(service: str) -> Any:
    """A boto3 client for `service` with standard retries."""
    return boto3.client(service, config=RETRY_CONFIG)  # type: ignore[call-overload]


def table(name: str) -> Any:
    """The DynamoDB table resource `name`, with standard retries."""
    return boto3.resource("dynamodb", config=RETRY_CONFIG).Table(name)
