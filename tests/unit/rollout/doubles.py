"""A moto-backed world for rollout tests: table, topic, alarms, a live endpoint, UpdateEndpoint.

moto has no UpdateEndpoint. `World` intercepts that one operation: it validates the request
against botocore's service model (as Stubber does), records it, and applies it to moto's
endpoint, either at once ("complete") or as an update in progress ("pending") that a test then
completes or rolls back. Every other call is served by moto.
"""

from __future__ import annotations

import json
import random
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import botocore.client
from botocore.exceptions import ClientError, ParamValidationError
from botocore.validate import ParamValidator
from moto.core import DEFAULT_ACCOUNT_ID
from moto.sagemaker.models import sagemaker_backends
from moto.sagemakerruntime.models import sagemakerruntime_backends

from guardrails.config import EnvironmentConfig
from guardrails.rollout import settings as rollout_settings
from guardrails.rollout.context import RolloutContext
from guardrails.rollout.serving import NO_MODEL, ServingModel, serving_model_parameter_name
from guardrails.rollout.settings import (
    DeploymentSettings,
    EndpointSettings,
    JudgeSettings,
    TrafficSettings,
)
from guardrails.services.autoscaling import AutoscalingSeam, VariantScaling
from guardrails.services.cloudwatch import CloudWatchSeam
from guardrails.services.sagemaker import SageMakerSeam
from guardrails.services.sns import Notifier
from guardrails.services.ssm import ServingModelParameter
from tests.aws import REGION, Inbox, create_deployment_table
from tests.released import RELEASED_BUCKET, create_released_bucket, register, release

ENDPOINT = "guardrails-test"
GROUP = "guardrails-test"
VARIANT = "AllTraffic"
LIVE_CONFIG = "live-config"
LIVE_MODEL = "live-model"
ROLE_ARN = f"arn:aws:iam::{DEFAULT_ACCOUNT_ID}:role/model-execution"
KEY_ARN = f"arn:aws:kms:{REGION}:{DEFAULT_ACCOUNT_ID}:key/11111111-2222-3333-4444-555555555555"
ALARMS = ("guardrails-test-errors", "guardrails-test-latency", "guardrails-test-verdict")
SERVING_MODEL_PARAMETER = serving_model_parameter_name("test")
CAPTURE_URI = f"s3://artifacts/data-capture/{ENDPOINT}"
_ORIGINAL_CALL = botocore.client.BaseClient._make_api_call


def labelled_split(rows: int = 300, seed: int = 7) -> dict[str, int]:
    """A held-out split as pipelines/preprocess.py writes it: request body -> label."""
    rng = random.Random(seed)
    split: dict[str, int] = {}
    while len(split) < rows:
        features = ",".join(f"{rng.uniform(-3, 3):.4f}" for _ in range(4))
        split[features] = rng.randrange(2)
    return split


TEST_LABELS = labelled_split()
# Headerless CSV, the label first (pipelines/preprocess.py).
TEST_DATA = "".join(f"{label},{body}\n" for body, label in TEST_LABELS.items()).encode()


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

    # ---- what serves, as the rollout recorded it
    def serving_model(self) -> ServingModel:
        return self.ctx.serving_model.read()

    def scaling(self) -> VariantScaling | None:
        return self.ctx.autoscaling.scaling(ENDPOINT, VARIANT)

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
    *,
    strategy: str,
    deployment: dict[str, Any],
    judge: dict[str, Any],
    topic_arn: str,
    endpoint: dict[str, Any] | None = None,
    traffic: dict[str, Any] | None = None,
) -> dict[str, str]:
    """The Lambda environment the CDK construct sets, from the real config dataclasses."""
    return {
        **rollout_settings.settings_environment(
            environment="test",
            endpoint_name=ENDPOINT,
            variant_name=VARIANT,
            endpoint=EndpointSettings(**(endpoint or {})),
            deployment=DeploymentSettings(strategy=strategy, **deployment),
            judge=JudgeSettings(**judge),
            traffic=TrafficSettings(**(traffic or {})),
            smoke_test_payload="0.5,1.2,-0.3",
        ),
        rollout_settings.TABLE_NAME: "deployments",
        rollout_settings.TOPIC_ARN: topic_arn,
        rollout_settings.MODEL_ROLE_ARN: ROLE_ARN,
        rollout_settings.ROLLBACK_ALARM_NAMES: json.dumps(list(ALARMS)),
        rollout_settings.REGION: REGION,
        rollout_settings.MODEL_PACKAGE_GROUP: GROUP,
        rollout_settings.RELEASED_BUCKET: RELEASED_BUCKET,
        rollout_settings.SERVING_MODEL_PARAMETER: SERVING_MODEL_PARAMETER,
        rollout_settings.KMS_KEY_ARN: KEY_ARN,
        rollout_settings.DATA_CAPTURE_URI: CAPTURE_URI,
    }


def make_world(
    monkeypatch: Any,
    *,
    strategy: str = "canary",
    deployment: dict[str, Any] | None = None,
    judge: dict[str, Any] | None = None,
    endpoint: dict[str, Any] | None = None,
    serving: bool = True,
    traffic: dict[str, Any] | None = None,
) -> World:
    """Build the world inside an active mock_aws().

    `serving`: an endpoint serves LIVE_CONFIG (and the parameter says so); otherwise the
    account is empty: no endpoint, the parameter says "no model yet".
    """
    table = create_deployment_table()
    sagemaker = boto3.client("sagemaker", region_name=REGION)
    cloudwatch = boto3.client("cloudwatch", region_name=REGION)
    sns = boto3.client("sns", region_name=REGION)
    on_call = Inbox.create("on-call")
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

    sagemaker.create_model_package_group(ModelPackageGroupName=GROUP)
    packages = {status: register(sagemaker, GROUP) for status in ("Approved", "Pending")}
    s3 = boto3.client("s3", region_name=REGION)
    create_released_bucket(s3)
    # As the approval step leaves it: the model and the held-out split released.
    release(sagemaker, s3, packages["Approved"], test_data=TEST_DATA)
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
    ssm = boto3.client("ssm", region_name=REGION)
    ssm.put_parameter(Name=SERVING_MODEL_PARAMETER, Value=NO_MODEL.to_json(), Type="String")
    autoscaling = AutoscalingSeam(boto3.client("application-autoscaling", region_name=REGION))
    if serving:
        sagemaker.create_endpoint(EndpointName=ENDPOINT, EndpointConfigName=LIVE_CONFIG)
        ssm.put_parameter(
            Name=SERVING_MODEL_PARAMETER,
            Value=ServingModel(
                model_package_arn=packages["Approved"], endpoint_config=LIVE_CONFIG
            ).to_json(),
            Overwrite=True,
        )
        autoscaling.register(ENDPOINT, VARIANT, EndpointSettings(**(endpoint or {})))
    sagemakerruntime_backends[DEFAULT_ACCOUNT_ID][REGION].results_queue.append(
        ("0.73", "text/csv", VARIANT, "")
    )

    clock = Clock()
    env = environment(
        strategy=strategy,
        deployment=deployment or {},
        judge={"bake_time_seconds": 300, "max_bake_time_seconds": 3600, **(judge or {})},
        topic_arn=on_call.topic_arn,
        endpoint=endpoint,
        traffic=traffic,
    )
    ctx = RolloutContext(
        settings=rollout_settings.load_settings(env),
        sagemaker=SageMakerSeam(sagemaker, boto3.client("sagemaker-runtime", region_name=REGION)),
        cloudwatch=CloudWatchSeam(cloudwatch),
        notifier=Notifier(sns, on_call.topic_arn),
        table=table,
        serving_model=ServingModelParameter(ssm, SERVING_MODEL_PARAMETER),
        autoscaling=autoscaling,
        clock=clock,
    )
    world = World(
        ctx=ctx,
        clock=clock,
        table=table,
        sagemaker=sagemaker,
        cloudwatch=cloudwatch,
        sqs=on_call.sqs,
        queue_url=on_call.queue_url,
        approved_package=packages["Approved"],
        pending_package=packages["Pending"],
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


def shipped_world(
    monkeypatch: Any, env: EnvironmentConfig, *, endpoint: dict[str, Any] | None = None
) -> World:
    """The world of a shipped environment's settings (`endpoint` overrides some)."""
    deployment = asdict(env.deployment)
    return make_world(
        monkeypatch,
        strategy=deployment.pop("strategy"),
        deployment=deployment,
        judge=asdict(env.judge),
        endpoint={**asdict(env.endpoint), **(endpoint or {})},
        traffic=asdict(env.traffic),
    )
