"""moto-backed AWS resources shaped like the ones the stacks create."""

from __future__ import annotations

import json
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


def deployment_record(deployment_id: str = "d-1", **overrides: Any) -> records.DeploymentRecord:
    """A prod rollout of package 2 from config-v1 to config-v2, as the Start step records it."""
    values: dict[str, Any] = dict(
        deployment_id=deployment_id,
        endpoint_name="guardrails-prod",
        environment="prod",
        model_package_arn=f"arn:aws:sagemaker:{REGION}:123456789012:model-package/guardrails-prod/2",
        previous_endpoint_config="config-v1",
        new_endpoint_config="config-v2",
        strategy="linear",
        started_by="pipeline",
    )
    return records.DeploymentRecord(**{**values, **overrides})


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


@dataclass(frozen=True)
class Inbox:
    """An SNS topic with an SQS queue subscribed: what an e-mail subscriber would receive."""

    topic_arn: str
    sqs: Any
    queue_url: str

    @classmethod
    def create(cls, name: str) -> Inbox:
        sns = boto3.client("sns", region_name=REGION)
        sqs = boto3.client("sqs", region_name=REGION)
        topic_arn = sns.create_topic(Name=name)["TopicArn"]
        queue_url = sqs.create_queue(QueueName=f"{name}-inbox")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])
        sns.subscribe(
            TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn["Attributes"]["QueueArn"]
        )
        return cls(topic_arn=topic_arn, sqs=sqs, queue_url=queue_url)

    def messages(self) -> list[dict[str, Any]]:
        """The SNS envelopes received since the last call (Subject, Message, ...)."""
        received = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10)
        return [json.loads(m["Body"]) for m in received.get("Messages", [])]


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
