"""A moto-backed world for rollout tests: table, topic, alarms, a live endpoint, UpdateEndpoint.

moto has no UpdateEndpoint. `World` intercepts that one operation: it validates the request
against botocore's service model (as Stubber does), records it, and applies it to moto's
endpoint, either at once ("complete") or as an update in progress ("pending") that a test then
completes or rolls back. Every other call is served by moto.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import botocore.client
from botocore.exceptions import ClientError, ParamValidationError
from botocore.validate import ParamValidator
from moto.core import DEFAULT_ACCOUNT_ID
from moto.sagemaker.models import sagemaker_backends
from moto.sagemakerruntime.models import sagemakerruntime_backends

from guardrails.rollout import settings as rollout_settings
from guardrails.rollout.context import RolloutContext
from guardrails.rollout.settings import DeploymentSettings, JudgeSettings
from guardrails.services.cloudwatch import CloudWatchSeam
from guardrails.services.sagemaker import SageMakerSeam
from guardrails.services.sns import Notifier
from tests.aws import REGION, create_deployment_table

ENDPOINT = "guardrails-test"
VARIANT = "AllTraffic"
LIVE_CONFIG = "live-config"
LIVE_MODEL = "live-model"
ROLE_ARN = f"arn:aws:iam::{DEFAULT_ACCOUNT_ID}:role/model-execution"
KEY_ARN = f"arn:aws:kms:{REGION}:{DEFAULT_ACCOUNT_ID}:key/11111111-2222-3333-4444-555555555555"
ALARMS = ("guardrails-test-errors", "guardrails-test-latency", "guardrails-test-verdict")
_ORIGINAL_CALL = botocore.client.BaseClient._make_api_call


class Clock:
    """A settable UTC clock, on a whole minute two hours ago (CloudWatch keeps that)."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=2)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@dataclass
class World:
    """Everything a rollout touches, in moto, plus the fake UpdateEndpoint's log."""

    ctx: RolloutContext
    clock: Clock
    start: datetime  # minute 0 of the published traffic
    table: Any
    sagemaker: Any
    cloudwatch: Any
    sqs: Any
    queue_url: str
    approved_package: str
    pending_package: str
    env: dict[str, str]  # the Lambda environment CDK would set
    update_mode: str = "complete"  # or "pending": the update stays in progress
    updates: list[dict[str, Any]] = field(default_factory=list)
    pending_config: str = ""

    # ---- the endpoint, as SageMaker would move it
    @property
    def endpoint(self) -> Any:
        return sagemaker_backends[DEFAULT_ACCOUNT_ID][REGION].endpoints[ENDPOINT]

    def serve(self, config_name: str, status: str = "InService") -> None:
        backend = sagemaker_backends[DEFAULT_ACCOUNT_ID][REGION]
        endpoint = self.endpoint
        endpoint.endpoint_config_name = config_name
        endpoint.endpoint_status = status
        variants = backend.endpoint_configs[config_name].production_variants
        endpoint.production_variants = endpoint._process_production_variants(variants)
        self.pending_config = ""

    def complete_update(self) -> None:
        self.serve(self.pending_config)

    def sagemaker_rolls_back(self) -> None:
        """What SageMaker does when a rollback alarm fires during its update."""
        self.endpoint.endpoint_status = "InService"
        self.pending_config = ""

    def update_endpoint(self, params: dict[str, Any]) -> dict[str, Any]:
        backend = sagemaker_backends[DEFAULT_ACCOUNT_ID][REGION]
        if self.endpoint.endpoint_status != "InService":
            raise ClientError(
                {"Error": {"Code": "ValidationException", "Message": "Cannot update in-progress"}},
                "UpdateEndpoint",
            )
        if params["EndpointConfigName"] not in backend.endpoint_configs:
            raise ClientError(
                {"Error": {"Code": "ValidationException", "Message": "Could not find config"}},
                "UpdateEndpoint",
            )
        self.updates.append(params)
        if self.update_mode == "complete":
            self.serve(params["EndpointConfigName"])
        else:
            self.endpoint.endpoint_status = "Updating"
            self.pending_config = params["EndpointConfigName"]
        return {"EndpointArn": self.endpoint.arn}

    # ---- traffic, as CloudWatch would see it
    def publish(
        self,
        dimensions: dict[str, str],
        *,
        minute: int,
        requests: int,
        errors: int = 0,
        client_errors: int = 0,
        latency_ms: float = 50.0,
    ) -> None:
        """One minute of SageMaker metrics under `dimensions` (latency spread 0.2x-4x mean)."""
        stamp = self.start + timedelta(minutes=minute, seconds=30)
        # In the order the judge queries them: moto compares sorted dimension lists with a
        # broken ordering, so only identical input orders match.
        dims = [{"Name": k, "Value": v} for k, v in sorted(dimensions.items())]

        def stats(total: float, low: float, high: float) -> dict[str, float]:
            return {"SampleCount": requests, "Sum": total, "Minimum": low, "Maximum": high}

        micro = latency_ms * 1000
        data = [
            ("Invocation5XXErrors", stats(errors, 0, 1 if errors else 0)),
            ("Invocation4XXErrors", stats(client_errors, 0, 1 if client_errors else 0)),
            ("ModelLatency", stats(micro * requests, micro * 0.2, micro * 4)),
        ]
        self.cloudwatch.put_metric_data(
            Namespace="AWS/SageMaker",
            MetricData=[
                {"MetricName": name, "Dimensions": dims, "Timestamp": stamp,
                 "StatisticValues": values, "Unit": "None"}
                for name, values in data
            ],
        )  # fmt: skip

    # ---- what on-call received
    def messages(self) -> list[dict[str, Any]]:
        received = []
        while True:
            batch = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10)
            if not batch.get("Messages"):
                return received
            for message in batch["Messages"]:
                envelope = json.loads(message["Body"])
                received.append(
                    {
                        "subject": envelope.get("Subject", ""),
                        "text": envelope["Message"],
                        "facts": json.loads(envelope["MessageAttributes"]["facts"]["Value"]),
                    }
                )
                self.sqs.delete_message(
                    QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"]
                )


def environment(
    *, strategy: str, deployment: dict[str, Any], judge: dict[str, Any], topic_arn: str
) -> dict[str, str]:
    """The Lambda environment the CDK construct sets, from the real config dataclasses."""
    return {
        **rollout_settings.settings_environment(
            environment="test",
            endpoint_name=ENDPOINT,
            variant_name=VARIANT,
            deployment=DeploymentSettings(strategy=strategy, **deployment),
            judge=JudgeSettings(**judge),
            smoke_test_payload="0.5,1.2,-0.3",
        ),
        rollout_settings.TABLE_NAME: "deployments",
        rollout_settings.TOPIC_ARN: topic_arn,
        rollout_settings.MODEL_ROLE_ARN: ROLE_ARN,
        rollout_settings.ROLLBACK_ALARM_NAMES: json.dumps(list(ALARMS)),
        rollout_settings.REGION: REGION,
    }


def make_world(
    monkeypatch: Any,
    *,
    strategy: str = "canary",
    deployment: dict[str, Any] | None = None,
    judge: dict[str, Any] | None = None,
) -> World:
    """Build the world inside an active mock_aws()."""
    table = create_deployment_table()
    sagemaker = boto3.client("sagemaker", region_name=REGION)
    cloudwatch = boto3.client("cloudwatch", region_name=REGION)
    sns = boto3.client("sns", region_name=REGION)
    sqs = boto3.client("sqs", region_name=REGION)

    topic_arn = sns.create_topic(Name="on-call")["TopicArn"]
    queue_url = sqs.create_queue(QueueName="on-call")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)
    for name in ALARMS:
        cloudwatch.put_metric_alarm(
            AlarmName=name,
            MetricName="JudgeVerdict",
            Namespace="Guardrails",
            Statistic="Maximum",
            Period=60,
            EvaluationPeriods=1,
            Threshold=1,
            ComparisonOperator="GreaterThanOrEqualToThreshold",
        )

    sagemaker.create_model_package_group(ModelPackageGroupName="guardrails-test")
    packages = {
        status: sagemaker.create_model_package(
            ModelPackageGroupName="guardrails-test", ModelApprovalStatus=status
        )["ModelPackageArn"]
        for status in ("Approved", "PendingManualApproval")
    }
    sagemaker.create_model(
        ModelName=LIVE_MODEL,
        ExecutionRoleArn=ROLE_ARN,
        PrimaryContainer={"Image": "123.dkr.ecr.us-east-1.amazonaws.com/xgboost:1"},
    )
    sagemaker.create_endpoint_config(
        EndpointConfigName=LIVE_CONFIG,
        ProductionVariants=[
            {
                "VariantName": VARIANT,
                "ModelName": LIVE_MODEL,
                "InitialInstanceCount": 2,
                "InstanceType": "ml.m5.large",
                "InitialVariantWeight": 1.0,
            }
        ],
        KmsKeyId=KEY_ARN,
        DataCaptureConfig={
            "EnableCapture": True,
            "InitialSamplingPercentage": 100,
            "DestinationS3Uri": "s3://artifacts/data-capture/guardrails-test",
            "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
        },
    )
    sagemaker.create_endpoint(EndpointName=ENDPOINT, EndpointConfigName=LIVE_CONFIG)
    sagemakerruntime_backends[DEFAULT_ACCOUNT_ID][REGION].results_queue.append(
        ("0.73", "text/csv", VARIANT, "")
    )

    clock = Clock()
    env = environment(
        strategy=strategy,
        deployment=deployment or {},
        judge={"bake_time_seconds": 300, "max_bake_time_seconds": 3600, **(judge or {})},
        topic_arn=topic_arn,
    )
    ctx = RolloutContext(
        settings=rollout_settings.load_settings(env),
        sagemaker=SageMakerSeam(sagemaker, boto3.client("sagemaker-runtime", region_name=REGION)),
        cloudwatch=CloudWatchSeam(cloudwatch),
        notifier=Notifier(sns, topic_arn),
        table=table,
        clock=clock,
    )
    world = World(
        ctx=ctx,
        clock=clock,
        table=table,
        sagemaker=sagemaker,
        cloudwatch=cloudwatch,
        sqs=sqs,
        queue_url=queue_url,
        approved_package=packages["Approved"],
        pending_package=packages["PendingManualApproval"],
        env=env,
        start=clock.now,
    )

    def make_api_call(client: Any, operation: str, params: dict[str, Any]) -> Any:
        if operation == "GetMetricData":
            return _without_percentiles(client, params)
        if operation != "UpdateEndpoint":
            return _ORIGINAL_CALL(client, operation, params)
        shape = client.meta.service_model.operation_model(operation).input_shape
        report = ParamValidator().validate(params, shape)
        if report.has_errors():
            raise ParamValidationError(report=report.generate_report())
        return world.update_endpoint(params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", make_api_call)
    return world


def _without_percentiles(client: Any, params: dict[str, Any]) -> Any:
    """GetMetricData as CloudWatch answers it for statistic sets: no percentiles (moto raises)."""
    queries = params["MetricDataQueries"]
    percentile = [q for q in queries if q.get("MetricStat", {}).get("Stat", "")[:1] == "p"]
    rest = [q for q in queries if q not in percentile]
    response = _ORIGINAL_CALL(client, "GetMetricData", {**params, "MetricDataQueries": rest})
    empty = {"Timestamps": [], "Values": [], "StatusCode": "Complete"}
    response["MetricDataResults"] += [{"Id": q["Id"], **empty} for q in percentile]
    return response
