"""moto-backed AWS resources shaped like the ones the stacks create."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import boto3

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
