"""The rollout's settings, defined once for both sides of the CDK/Lambda boundary.

`EndpointSettings`, `DeploymentSettings`, `JudgeSettings` and `TrafficSettings` are what an
environment's config (cdk.json -> infra/config.py) says about its endpoint, its guardrail, its
judge and the traffic it bakes on (the replay's rate among it). CDK writes them into the rollout
Lambdas' environment as JSON, and `load_settings` rebuilds the very same
classes from it, so both sides run the same checks. Pure: the caller passes the environment
mapping (handlers pass os.environ).
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from guardrails.validation import (
    check_fields,
    check_one_of,
    check_pattern,
    check_range,
    env_json,
    env_text,
    fail,
    from_mapping,
    got,
)

STRATEGIES = ("all_at_once", "canary", "linear", "rolling", "ab", "shadow")
NATIVE_STRATEGIES = ("all_at_once", "canary", "linear", "rolling")
INSTANCE_TYPE = re.compile(r"^ml\.[a-z0-9]+\.[a-z0-9]+$")
RESOURCE_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")  # endpoints and variants

# Lambda environment variables CDK sets for the rollout functions.
ENVIRONMENT = "GUARDRAILS_ENVIRONMENT"
REGION = "AWS_REGION"  # set by Lambda itself
ENDPOINT_NAME = "ENDPOINT_NAME"
VARIANT_NAME = "VARIANT_NAME"
TABLE_NAME = "TABLE_NAME"
TOPIC_ARN = "TOPIC_ARN"
MODEL_ROLE_ARN = "MODEL_ROLE_ARN"
ROLLBACK_ALARM_NAMES = "ROLLBACK_ALARM_NAMES"  # JSON list
ENDPOINT_SETTINGS = "ENDPOINT_SETTINGS"  # JSON object: EndpointSettings
DEPLOYMENT_SETTINGS = "DEPLOYMENT_SETTINGS"  # JSON object: DeploymentSettings
JUDGE_SETTINGS = "JUDGE_SETTINGS"  # JSON object: JudgeSettings
TRAFFIC_SETTINGS = "TRAFFIC_SETTINGS"  # JSON object: TrafficSettings
SMOKE_TEST_PAYLOAD = "SMOKE_TEST_PAYLOAD"
MODEL_PACKAGE_GROUP = "MODEL_PACKAGE_GROUP_NAME"  # the pipeline's group: the only one served
RELEASED_BUCKET = "RELEASED_BUCKET"  # the approval step's released artifacts
SERVING_MODEL_PARAMETER = "SERVING_MODEL_PARAMETER"  # SSM: what serves (guardrails.rollout.serving)
KMS_KEY_ARN = "KMS_KEY_ARN"  # the environment's key: endpoint configs and data capture
DATA_CAPTURE_URI = "DATA_CAPTURE_URI"  # s3://<artifact bucket>/data-capture/<endpoint>


@dataclass(frozen=True, kw_only=True)
class EndpointSettings:
    """Shape of the SageMaker endpoint: instances, variant, autoscaling, data capture."""

    instance_type: str = "ml.m5.large"
    instance_count: int = 2  # instances behind the production variant
    variant_name: str = "AllTraffic"  # kept across updates: rolling and autoscaling need it
    min_capacity: int = 2  # autoscaling floor (instances)
    max_capacity: int = 4  # autoscaling ceiling (instances)
    target_invocations_per_instance: int = 750  # per minute, target-tracking set point
    data_capture_percent: int = 100  # share of requests captured to the artifact bucket
    max_5xx_error_rate: float = 0.01  # rollback alarm: Invocation5XXErrors average
    max_model_latency_ms: float = 500.0  # rollback alarm: ModelLatency p99, milliseconds

    def __post_init__(self) -> None:
        check_fields(self)
        check_pattern("instance_type", self.instance_type, INSTANCE_TYPE, "ml.m5.large")
        check_range("instance_count", self.instance_count, 1, 100)
        check_pattern(
            "variant_name", self.variant_name, RESOURCE_NAME, "1-63 letters, digits or hyphens"
        )
        check_range("min_capacity", self.min_capacity, 1, 100)
        check_range("max_capacity", self.max_capacity, self.min_capacity, 100)
        if not self.min_capacity <= self.instance_count <= self.max_capacity:
            fail("instance_count", "must lie between min_capacity and max_capacity")
        check_range(
            "target_invocations_per_instance", self.target_invocations_per_instance, 1, 1e6
        )
        check_range("data_capture_percent", self.data_capture_percent, 0, 100, " %")
        check_range("max_5xx_error_rate", self.max_5xx_error_rate, 0.0001, 1)
        check_range("max_model_latency_ms", self.max_model_latency_ms, 1, 3_600_000, " ms")


@dataclass(frozen=True, kw_only=True)
class DeploymentSettings:
    """The guardrail used to roll a new model out, and its timings."""

    strategy: str = "canary"  # one of STRATEGIES
    canary_percent: int = 10  # canary: share of the new fleet's capacity, 1-50 %
    linear_step_percent: int = 25  # linear: step size, 10-50 % of the new fleet's capacity
    wait_interval_seconds: int = 600  # bake time between traffic shifts, 60-3600 s
    rolling_batch_percent: int = 25  # rolling: batch size, 5-50 % of the fleet
    termination_wait_seconds: int = 300  # keep the old fleet this long after the shift, 0-3600 s
    max_execution_timeout_seconds: int = 3600  # whole blue/green or rolling update, 600-28800 s
    ab_weight_steps: tuple[int, ...] = (5, 25, 50, 100)  # ab: candidate weight % per step

    def __post_init__(self) -> None:
        check_fields(self)
        check_one_of("strategy", self.strategy, STRATEGIES)
        check_range("canary_percent", self.canary_percent, 1, 50, " %")
        check_range("linear_step_percent", self.linear_step_percent, 10, 50, " %")
        check_range("wait_interval_seconds", self.wait_interval_seconds, 60, 3600, " s")
        check_range("rolling_batch_percent", self.rolling_batch_percent, 5, 50, " %")
        check_range("termination_wait_seconds", self.termination_wait_seconds, 0, 3600, " s")
        check_range(
            "max_execution_timeout_seconds", self.max_execution_timeout_seconds, 600, 28800, " s"
        )
        steps = self.ab_weight_steps
        if not steps or list(steps) != sorted(set(steps)) or steps[0] < 1 or steps[-1] != 100:
            fail(
                "ab_weight_steps",
                f"must be increasing whole percents from >= 1 ending at 100 {got(list(steps))}",
            )

    @property
    def is_native(self) -> bool:
        """True when SageMaker's own DeploymentConfig carries the guardrail."""
        return self.strategy in NATIVE_STRATEGIES

    @property
    def kind(self) -> str:
        """ "native" (SageMaker shifts traffic), "ab" or "shadow" (the state machine does)."""
        return "native" if self.is_native else self.strategy


@dataclass(frozen=True, kw_only=True)
class JudgeSettings:
    """The sequential judge's statistics and how long a rollout may bake."""

    alpha: float = 0.05  # false-rollback budget across all metrics
    min_samples: int = 100  # canary requests before any promotion
    error_rate_margin: float = 0.005  # largest accepted rise in error rate (absolute)
    max_error_rate: float = 0.01  # ceiling on the canary's error rate
    latency_margin_ms: float = 5.0  # largest accepted rise in mean model latency, ms
    max_latency_ms: float = 500.0  # ceiling on the canary's mean model latency, ms
    quality_margin: float = 0.01  # largest accepted drop in labelled accuracy (absolute)
    interval_seconds: int = 60  # how often the judge looks, >= 60 s (CloudWatch resolution)
    bake_time_seconds: int = 600  # least time a rollout bakes before it may promote, >= 60 s
    max_bake_time_seconds: int = 7200  # a rollout undecided by then is rolled back
    # The canary's first seconds with traffic (cold start) are left out of the comparisons;
    # limits still watch them. Rounded up to whole minutes, 0-3600 s.
    warmup_seconds: int = 120

    def __post_init__(self) -> None:
        check_fields(self)
        check_range("alpha", self.alpha, 0.001, 0.5)
        check_range("min_samples", self.min_samples, 1, 10_000_000)
        check_range("error_rate_margin", self.error_rate_margin, 1e-6, 1)
        check_range("max_error_rate", self.max_error_rate, 1e-6, 1)
        check_range("latency_margin_ms", self.latency_margin_ms, 0.001, 1e6, " ms")
        check_range("max_latency_ms", self.max_latency_ms, 0.001, 3.6e6, " ms")
        check_range("quality_margin", self.quality_margin, 1e-6, 0.5)
        check_range("interval_seconds", self.interval_seconds, 60, 3600, " s")
        check_range("bake_time_seconds", self.bake_time_seconds, 60, 86400, " s")
        check_range(
            "max_bake_time_seconds",
            self.max_bake_time_seconds,
            self.bake_time_seconds,
            86400,
            " s",
        )
        check_range("warmup_seconds", self.warmup_seconds, 0, 3600, " s")


# One Lambda sends the replay, one request after another: at 600 a minute each has 100 ms, about
# what an InvokeEndpoint round trip from Lambda to a small model takes. Faster, it falls behind
# (its unsent requests are counted).
MAX_REPLAY_REQUESTS_PER_MINUTE = 600
# The replay may take at most this share of the endpoint's capacity at its autoscaling floor
# (endpoint.min_capacity x endpoint.target_invocations_per_instance a minute): by itself it never
# makes autoscaling add instances, and real requests keep three quarters of the floor.
REPLAY_CAPACITY_SHARE = 0.25
# The Replay step is a Lambda that runs a whole judge interval plus this margin (the last
# request, publishing the round's counts); Lambda stops a function at 900 s.
REPLAY_TIMEOUT_MARGIN_SECONDS = 60
MAX_REPLAY_INTERVAL_SECONDS = 900 - REPLAY_TIMEOUT_MARGIN_SECONDS


@dataclass(frozen=True, kw_only=True)
class TrafficSettings:
    """The traffic a rollout bakes on: real requests, and the test data the rollout replays."""

    # Real requests per minute to the endpoint while a rollout bakes (all variants together, the
    # replay not included); 0: no real users; None skips the timing checks
    # (guardrails.rollout.timing) unless the environment replays.
    expected_requests_per_minute: float | None = None
    expected_error_rate: float = 0.001  # 5xx (and 4xx) share of a healthy model's requests
    # Requests per minute the rollout itself sends while it bakes, drawn from the package's
    # released test data (guardrails.rollout.replay), 0-600; 0 turns the replay off.
    replay_requests_per_minute: int = 0
    replay_in_production: bool = False  # a `production` environment replays only when true
    # Labelled accuracy of a healthy model on the test data, which the timing check plans for
    # where the replay publishes it (A/B).
    expected_accuracy: float = 0.9

    def __post_init__(self) -> None:
        check_fields(self)
        if self.expected_requests_per_minute is not None:
            check_range(
                "expected_requests_per_minute",
                self.expected_requests_per_minute,
                0,
                1e8,
                " requests per minute",
            )
        check_range("expected_error_rate", self.expected_error_rate, 0, 0.5)
        check_range(
            "replay_requests_per_minute",
            self.replay_requests_per_minute,
            0,
            MAX_REPLAY_REQUESTS_PER_MINUTE,
            " requests per minute",
        )
        check_range("expected_accuracy", self.expected_accuracy, 0.5, 0.999)

    @property
    def replays(self) -> bool:
        """True when the rollout replays test data while it bakes."""
        return self.replay_requests_per_minute > 0

    @property
    def planned_requests_per_minute(self) -> float | None:
        """Real plus replayed requests a minute; None when neither is known."""
        if self.expected_requests_per_minute is None and not self.replays:
            return None
        return (self.expected_requests_per_minute or 0.0) + self.replay_requests_per_minute


@dataclass(frozen=True, kw_only=True)
class RolloutSettings:
    """Everything a rollout step needs to know about its environment."""

    environment: str
    region: str
    endpoint_name: str
    variant_name: str
    table_name: str
    topic_arn: str
    model_role_arn: str
    rollback_alarm_names: tuple[str, ...]
    endpoint: EndpointSettings = field(default_factory=EndpointSettings)
    deployment: DeploymentSettings = field(default_factory=DeploymentSettings)
    judge: JudgeSettings = field(default_factory=JudgeSettings)
    traffic: TrafficSettings = field(default_factory=TrafficSettings)
    smoke_test_payload: str
    smoke_test_content_type: str = "text/csv"
    model_package_group: str  # packages of another group are refused
    released_bucket: str  # models are created only from the approval step's released copies
    serving_model_parameter: str  # the SSM parameter a rollout writes at every verified ending
    kms_key_arn: str  # a first deploy's endpoint config and data capture are encrypted with it
    data_capture_uri: str  # where a first deploy's endpoint config captures requests to


def settings_environment(
    *,
    environment: str,
    endpoint_name: str,
    variant_name: str,
    endpoint: EndpointSettings,
    deployment: DeploymentSettings,
    judge: JudgeSettings,
    traffic: TrafficSettings,
    smoke_test_payload: str,
) -> dict[str, str]:
    """The plain-text part of the environment (CDK adds table, topic, role and alarm names)."""
    return {
        ENVIRONMENT: environment,
        ENDPOINT_NAME: endpoint_name,
        VARIANT_NAME: variant_name,
        ENDPOINT_SETTINGS: _json(endpoint),
        DEPLOYMENT_SETTINGS: _json(deployment),
        JUDGE_SETTINGS: _json(judge),
        TRAFFIC_SETTINGS: _json(traffic),
        SMOKE_TEST_PAYLOAD: smoke_test_payload,
    }


def _json(settings: Any) -> str:
    return json.dumps(dataclasses.asdict(settings), sort_keys=True)


def load_settings(environ: Mapping[str, str]) -> RolloutSettings:
    """RolloutSettings from the Lambda environment, or ConfigError naming the variable."""
    alarms = env_json(environ, ROLLBACK_ALARM_NAMES)
    if (
        not isinstance(alarms, list)
        or not alarms
        or not all(isinstance(a, str) and a for a in alarms)
    ):
        fail(ROLLBACK_ALARM_NAMES, "must be a non-empty JSON list of names")
    return RolloutSettings(
        environment=env_text(environ, ENVIRONMENT),
        region=environ.get(REGION, ""),
        endpoint_name=env_text(environ, ENDPOINT_NAME),
        variant_name=env_text(environ, VARIANT_NAME),
        table_name=env_text(environ, TABLE_NAME),
        topic_arn=env_text(environ, TOPIC_ARN),
        model_role_arn=env_text(environ, MODEL_ROLE_ARN),
        rollback_alarm_names=tuple(alarms),
        endpoint=from_mapping(
            EndpointSettings, env_json(environ, ENDPOINT_SETTINGS, dict), path=ENDPOINT_SETTINGS
        ),
        deployment=from_mapping(
            DeploymentSettings,
            env_json(environ, DEPLOYMENT_SETTINGS, dict),
            path=DEPLOYMENT_SETTINGS,
        ),
        judge=from_mapping(
            JudgeSettings, env_json(environ, JUDGE_SETTINGS, dict), path=JUDGE_SETTINGS
        ),
        traffic=from_mapping(
            TrafficSettings, env_json(environ, TRAFFIC_SETTINGS, dict), path=TRAFFIC_SETTINGS
        ),
        smoke_test_payload=env_text(environ, SMOKE_TEST_PAYLOAD),
        model_package_group=env_text(environ, MODEL_PACKAGE_GROUP),
        released_bucket=env_text(environ, RELEASED_BUCKET),
        serving_model_parameter=env_text(environ, SERVING_MODEL_PARAMETER),
        kms_key_arn=env_text(environ, KMS_KEY_ARN),
        data_capture_uri=env_text(environ, DATA_CAPTURE_URI),
    )
