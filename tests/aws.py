"""moto-backed AWS resources shaped like the ones the stacks create."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import boto3

from guardrails import records

REGION = "us-east-1"


def create_deployment_table(name: str = "deployments") -> Any:
    """The deployment table as infra/environment/deployment_table.py defines it (pk/sk strings)."""
    dynamodb = boto3.resource("dynamodb", region_name=REGION)
    return dynamodb.create_table(
        TableName=name,
        KeySchema=[
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )


def hold_lock(
    table: Any, endpoint_name: str, deployment_id: str, *, started_by: str = "ci"
) -> None:
    """`deployment_id` holds the endpoint's lock now, with a fifteen-minute lease."""
    records.acquire_lock(
        table,
        endpoint_name=endpoint_name,
        deployment_id=deployment_id,
        started_by=started_by,
        now=datetime.now(UTC),
        lease_seconds=900,
    )


# A model package's inference spec: enough for moto's CreateModelPackage.
INFERENCE_SPECIFICATION = {
    "Containers": [{"Image": "image", "ModelDataUrl": "s3://artifacts/model.tar.gz"}],
    "SupportedContentTypes": ["text/csv"],
    "SupportedResponseMIMETypes": ["text/csv"],
}


@dataclass
class LambdaContext:
    """What Powertools reads of a Lambda invocation's context."""

    function_name: str = "guardrails-test"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = f"arn:aws:lambda:{REGION}:111111111111:function:guardrails-test"
    aws_request_id: str = "5b1a0c8e-8e1f-4c7e-9a55-0d3c1b2a4f6e"

    def get_remaining_time_in_millis(self) -> int:
        return 60_000
