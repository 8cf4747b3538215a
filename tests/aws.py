"""moto-backed AWS resources shaped like the ones the stacks create."""

from __future__ import annotations

from typing import Any

import boto3

REGION = "us-east-1"


def create_deployment_table(name: str = "deployments") -> Any:
    """The deployment table as infra/deployment_table.py defines it (pk/sk strings)."""
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
