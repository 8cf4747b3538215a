"""The app's configuration: one validated config per environment, plus the pipeline's.

Pure data: no CDK imports and no environment reads, so the CDK app (through infra/config.py),
the operator CLI and the tests share it. The settings the rollout Lambdas also read
(`EndpointSettings`, `DeploymentSettings`, `JudgeSettings`) are defined once in
guardrails/rollout/settings.py; this module composes them per environment. Every value is
checked on construction; a bad one raises ConfigError naming the field
(`environments.prod.judge.alpha: must be between ...`).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from guardrails.rollout.endpoint_configs import NAME_PREFIX_LENGTH, name_prefix
from guardrails.rollout.settings import INSTANCE_TYPE as _INSTANCE_TYPE
from guardrails.rollout.settings import (
    MAX_REPLAY_INTERVAL_SECONDS,
    NATIVE_STRATEGIES,
    REPLAY_CAPACITY_SHARE,
    RESOURCE_NAME,
    STRATEGIES,
    DeploymentSettings,
    EndpointSettings,
    JudgeSettings,
    TrafficSettings,
    settings_environment,
)
from guardrails.rollout.timing import check_bake_limit, check_native_timing
from guardrails.validation import (
    ConfigError,
    check_fields,
    check_one_of,
    check_pattern,
    check_range,
    fail,
    from_mapping,
    got,
)

__all__ = [
    "ENVIRONMENTS_CONTEXT_KEY",
    "NATIVE_STRATEGIES",
    "PIPELINE_CONTEXT_KEY",
    "SOURCE_KINDS",
    "STRATEGIES",
    "AppConfig",
    "ConfigError",
    "DeploymentSettings",
    "EndpointSettings",
    "EnvironmentConfig",
    "JudgeSettings",
    "PipelineSettings",
    "TrafficSettings",
    "config_from_context",
    "default_config",
]

SOURCE_KINDS = ("codecommit", "codeconnections")
ENVIRONMENTS_CONTEXT_KEY = "guardrails:environments"
PIPELINE_CONTEXT_KEY = "guardrails:pipeline"

_ACCOUNT = re.compile(r"^\d{12}$")
_REGION = re.compile(r"^[a-z]{2}(-gov)?-[a-z]+-\d$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_ENV_NAME = re.compile(r"^[a-z][a-z0-9]{0,15}$")
# Lambda caps a function's environment at 4 KB; the rollout functions carry the payload beside
# their names, ARNs and settings (about 1.7 KB at most), so the payload gets 1 KB of it.
SMOKE_TEST_PAYLOAD_MAX_BYTES = 1024
_CONNECTION_ARN = re.compile(
    r"^arn:aws[a-z-]*:(codeconnections|codestar-connections):[a-z0-9-]+:\d{12}:connection/[\w-]+$"
)


def _check_emails(field_name: str, emails: tuple[str, ...]) -> None:
    for email in emails:
        if not _EMAIL.match(email):
            fail(field_name, f"not an e-mail address: {email!r}")


def _check_smoke_test_payload(payload: str) -> None:
    if not payload.strip():
        fail("smoke_test_payload", f"must be a request body, not blank {got(payload)}")
    size = len(payload.encode("utf-8"))
    if size > SMOKE_TEST_PAYLOAD_MAX_BYTES:
        fail(
            "smoke_test_payload",
            f"must be 1-{SMOKE_TEST_PAYLOAD_MAX_BYTES} bytes: the rollout functions carry it in "
            f"their environment, which Lambda caps at 4 KB (got {size} bytes)",
        )


def _check_replay(env: EnvironmentConfig) -> None:
    """The replay's limits: opt-in in production, a share of the floor's capacity, one Lambda."""
    rate = env.traffic.replay_requests_per_minute
    if not rate:
        return
    if env.production and not env.traffic.replay_in_production:
        fail(
            "traffic.replay_requests_per_minute",
            f"{rate} requests a minute of test data into a production endpoint: set "
            "traffic.replay_in_production to true to allow it, or 0 to replay nothing",
        )
    floor = env.endpoint.min_capacity * env.endpoint.target_invocations_per_instance
    bound = math.floor(REPLAY_CAPACITY_SHARE * floor)
    if rate > bound:
        fail(
            "traffic.replay_requests_per_minute",
            f"must be at most {bound}: a quarter of the endpoint's capacity at its autoscaling "
            f"floor (endpoint.min_capacity {env.endpoint.min_capacity} x "
            f"endpoint.target_invocations_per_instance "
            f"{env.endpoint.target_invocations_per_instance} a minute), so that the replay alone "
            f"never scales the endpoint out or crowds out real requests {got(rate)}",
        )
    if env.judge.interval_seconds > MAX_REPLAY_INTERVAL_SECONDS:
        fail(
            "judge.interval_seconds",
            f"must be at most {MAX_REPLAY_INTERVAL_SECONDS} s while the environment replays "
            "test data: the Replay step is a Lambda that runs a whole judge interval plus a "
            f"minute, and Lambda stops at 15 minutes {got(env.judge.interval_seconds)}",
        )


def _check_endpoint_names(environments: tuple[EnvironmentConfig, ...]) -> None:
    """No two environments may reach each other's endpoint, models or endpoint configs.

    A rollout may update its endpoint (by name) and create models and configs named
    `<first 44 characters of the endpoint name>-*` (IAM scopes on that prefix): a name that
    equals another, starts another, or shares its first 44 characters lets one environment's
    rollout act in the other's name space. SageMaker names are case-insensitive.
    """
    for index, env in enumerate(environments):
        mine = env.endpoint_name.lower()
        for other in environments[index + 1 :]:
            theirs = other.endpoint_name.lower()
            field_name = f"environments.{other.name}.endpoint_name"
            if mine == theirs:
                fail(
                    field_name,
                    f"must differ from {env.name}'s endpoint name: two rollouts and two locks "
                    f"would guard one endpoint {got(other.endpoint_name)}",
                )
            shorter, longer = sorted((env, other), key=lambda e: len(e.endpoint_name))
            if longer.endpoint_name.lower().startswith(shorter.endpoint_name.lower()):
                fail(
                    f"environments.{shorter.name}.endpoint_name",
                    f"must not be a prefix of {longer.name}'s endpoint name "
                    f"{longer.endpoint_name!r}: {shorter.name}'s rollout could create models and "
                    f"configs in {longer.name}'s name space {got(shorter.endpoint_name)}",
                )
            if name_prefix(mine) == name_prefix(theirs):
                fail(
                    field_name,
                    f"must differ from {env.name}'s endpoint name in its first "
                    f"{NAME_PREFIX_LENGTH} characters, which name the models and configs a "
                    f"rollout may create {got(other.endpoint_name)}",
                )


def rollout_state_machine_name(environment: str) -> str:
    """`guardrails-<env>-rollout`: other stacks and accounts derive its ARN from this name."""
    return f"guardrails-{environment}-rollout"


@dataclass(frozen=True, kw_only=True)
class EnvironmentConfig:
    """Everything one environment (dev, staging, prod) needs."""

    name: str
    account: str | None = None  # 12 digits; None synthesizes an environment-agnostic stack
    region: str | None = None  # e.g. eu-west-1; None synthesizes an environment-agnostic stack
    production: bool = False  # retain stateful resources, termination protection
    endpoint_name: str = ""  # defaults to guardrails-<name>
    endpoint: EndpointSettings = field(default_factory=EndpointSettings)
    deployment: DeploymentSettings = field(default_factory=DeploymentSettings)
    judge: JudgeSettings = field(default_factory=JudgeSettings)
    traffic: TrafficSettings = field(default_factory=TrafficSettings)
    notification_emails: tuple[str, ...] = ()  # on-call subscribers of the SNS topic
    smoke_test_payload: str = "0.5,1.2,-0.3,0.8,0.1,-1.1,0.4,0.9"  # text/csv, 1-1024 bytes

    def __post_init__(self) -> None:
        check_fields(self)
        if not _ENV_NAME.match(self.name):
            fail("name", f"must be lower-case letters and digits {got(self.name)}")
        if not self.endpoint_name:
            object.__setattr__(self, "endpoint_name", f"guardrails-{self.name}")
        if self.account is not None:
            check_pattern("account", self.account, _ACCOUNT, "12 digits")
        if self.region is not None:
            check_pattern("region", self.region, _REGION, "eu-west-1")
        if (self.account is None) != (self.region is None):
            fail("account", "account and region must be set together or both left unset")
        if self.production and self.account is None:
            fail("account", "a production environment needs an explicit account and region")
        check_pattern(
            "endpoint_name", self.endpoint_name, RESOURCE_NAME, "1-63 letters, digits or hyphens"
        )
        _check_emails("notification_emails", self.notification_emails)
        _check_smoke_test_payload(self.smoke_test_payload)
        if self.deployment.strategy == "rolling" and self.endpoint.instance_count < 2:
            fail("endpoint.instance_count", "rolling updates need at least 2 instances")
        if self.traffic.expected_error_rate >= self.judge.max_error_rate:
            fail(
                "traffic.expected_error_rate",
                f"must be below judge.max_error_rate ({self.judge.max_error_rate:g}): the "
                "judge never promotes a model at its ceiling "
                + got(self.traffic.expected_error_rate),
            )
        _check_replay(self)
        # SageMaker's canary and linear shift traffic on a timer: it must leave the judge time;
        # and real plus replayed traffic must get a good model promoted before the max bake.
        check_native_timing(self.deployment, self.judge, self.traffic)
        check_bake_limit(self.deployment, self.judge, self.traffic)

    @property
    def is_environment_agnostic(self) -> bool:
        return self.account is None

    def rollout_environment(self) -> dict[str, str]:
        """The settings part of the rollout Lambdas' environment (CDK adds the resource names)."""
        return settings_environment(
            environment=self.name,
            endpoint_name=self.endpoint_name,
            variant_name=self.endpoint.variant_name,
            endpoint=self.endpoint,
            deployment=self.deployment,
            judge=self.judge,
            traffic=self.traffic,
            smoke_test_payload=self.smoke_test_payload,
        )

    @property
    def rollout_state_machine_name(self) -> str:
        """The rollout state machine's name: deterministic, so other stacks derive its ARN."""
        return rollout_state_machine_name(self.name)


@dataclass(frozen=True, kw_only=True)
class PipelineSettings:
    """Where the model pipeline runs and where its source comes from."""

    host_environment: str = "dev"  # the tooling account: runs the pipeline, keeps released models
    source: str = "codecommit"  # one of SOURCE_KINDS
    branch: str = "main"
    connection_arn_context_key: str = "connection_arn"  # context key holding the connection ARN
    repository_owner_and_name: str = ""  # codeconnections: "owner/repo"
    deploy_environments: tuple[str, ...] = ("staging", "prod")  # in order, after approval
    min_auc: float = 0.7  # quality gate: least AUC of a new model on held-out data
    max_auc_drop: float = 0.01  # quality gate: largest accepted AUC drop vs the approved model
    min_accuracy: float = 0.7  # quality gate: least accuracy at a 0.5 threshold on held-out data
    processing_instance_type: str = "ml.m5.large"  # preprocessing and evaluation jobs
    training_instance_type: str = "ml.m5.large"  # the XGBoost training job
    approver_emails: tuple[str, ...] = ()  # subscribers of the approval-request topic
    release_retention_days: int = 365  # Object Lock retention of released artifacts, days

    def __post_init__(self) -> None:
        check_fields(self)
        check_one_of("source", self.source, SOURCE_KINDS)
        if self.source == "codeconnections" and "/" not in self.repository_owner_and_name:
            fail("repository_owner_and_name", "must be owner/name for codeconnections")
        check_range("min_auc", self.min_auc, 0.5, 1)
        check_range("max_auc_drop", self.max_auc_drop, 0, 0.5)
        check_range("min_accuracy", self.min_accuracy, 0.5, 1)
        if len(set(self.deploy_environments)) != len(self.deploy_environments):
            fail(
                "deploy_environments",
                f"must not repeat an environment {got(list(self.deploy_environments))}",
            )
        for name in ("processing_instance_type", "training_instance_type"):
            check_pattern(name, getattr(self, name), _INSTANCE_TYPE, "ml.m5.large")
        _check_emails("approver_emails", self.approver_emails)
        check_range("release_retention_days", self.release_retention_days, 1, 3650, " days")

    @property
    def environments(self) -> tuple[str, ...]:
        """The environments the pipeline needs: the host and every deploy target, in order."""
        return tuple(dict.fromkeys((self.host_environment, *self.deploy_environments)))

    def connection_arn(self, context_value: Any) -> str | None:
        """The CodeConnections ARN the source needs (None for CodeCommit), checked."""
        if self.source != "codeconnections":
            return None
        if not isinstance(context_value, str) or not _CONNECTION_ARN.match(context_value):
            fail(
                self.connection_arn_context_key,
                "the codeconnections source needs a connection ARN in context, e.g. "
                f"-c {self.connection_arn_context_key}="
                f"arn:aws:codeconnections:<region>:<account>:connection/<id> {got(context_value)}",
            )
        return context_value


@dataclass(frozen=True, kw_only=True)
class AppConfig:
    """All environments plus the pipeline that deploys across them."""

    environments: tuple[EnvironmentConfig, ...]
    pipeline: PipelineSettings = field(default_factory=PipelineSettings)

    def __post_init__(self) -> None:
        names = tuple(env.name for env in self.environments)
        if len(set(names)) != len(names):
            fail("environments", f"names must be unique {got(list(names))}")
        _check_endpoint_names(self.environments)
        for key, name in [
            ("host_environment", self.pipeline.host_environment),
            *[("deploy_environments", env) for env in self.pipeline.deploy_environments],
        ]:
            if name not in names:
                fail(f"pipeline.{key}", f"must be one of {', '.join(names)} {got(name)}")

    def check_accounts(self) -> None:
        """Where environments may be, given that every one serves the host's released models.

        The pipeline's host environment is the tooling account: its stateful stack keeps the
        released artifacts and the registry every environment's rollouts read, and its pipeline
        starts the deploy environments' rollouts. Other accounts are reached by names derived
        from config (never by CloudFormation exports), so when any environment names an account
        every environment must (an environment-agnostic one could land anywhere), and all of
        them must be in the host's region: SageMaker loads a model only from an S3 bucket in the
        endpoint's own region, and the released artifacts are in the host's.
        """
        host = self.environment(self.pipeline.host_environment)
        for env in self.environments:
            if env is host:
                continue
            if host.is_environment_agnostic and not env.is_environment_agnostic:
                fail(
                    f"environments.{host.name}.account",
                    f"the pipeline host {host.name} needs an explicit account and region, since "
                    f"{env.name} names its own ({env.account}/{env.region}): other accounts trust "
                    "the host's pipeline and read its released models by the host's account",
                )
            if env.is_environment_agnostic and not host.is_environment_agnostic:
                fail(
                    f"environments.{env.name}.account",
                    f"must be set, like the pipeline host {host.name}'s ({host.account}/"
                    f"{host.region}): the host's policies name the account of every environment "
                    "that loads its released models",
                )
            if env.region != host.region:
                fail(
                    f"environments.{env.name}.region",
                    f"must be the pipeline host {host.name}'s region {host.region}: SageMaker "
                    "loads a model only from an S3 bucket in the endpoint's own region, and the "
                    f"released artifacts are in the host's {got(env.region)}",
                )

    def other_account_environments(self) -> tuple[EnvironmentConfig, ...]:
        """The environments in another account than the pipeline host's (none when agnostic)."""
        host = self.environment(self.pipeline.host_environment)
        return tuple(env for env in self.environments if env.account != host.account)

    def check_pipeline(self, connection_context: Any) -> str | None:
        """What only matters once the pipeline is built; its source's connection ARN, if any.

        The environments must be placed as `check_accounts` says (deploy environments may be
        in other accounts than the host), and a CodeConnections source needs the connection ARN
        that context holds.
        """
        self.check_accounts()
        return self.pipeline.connection_arn(connection_context)

    def environment(self, name: str) -> EnvironmentConfig:
        """The named environment, or ConfigError listing the known ones."""
        for env in self.environments:
            if env.name == name:
                return env
        known = ", ".join(env.name for env in self.environments)
        raise ConfigError("env", f"unknown environment {name!r} (known: {known})")

    def select(self, names: list[str] | None) -> tuple[EnvironmentConfig, ...]:
        """The environments named (all when names is empty or None), in config order."""
        if not names:
            return self.environments
        wanted = [self.environment(n) for n in names]
        return tuple(env for env in self.environments if env in wanted)

    def builds_pipeline(self, selected: tuple[EnvironmentConfig, ...]) -> bool:
        """The pipeline spans environments: it is built when all it needs are selected."""
        chosen = {env.name for env in selected}
        return all(name in chosen for name in self.pipeline.environments)


def _shipped_environments() -> dict[str, dict[str, Any]]:
    """The dev/staging/prod defaults, as field values that overrides replace."""
    # Traffic: dev has few users and staging none, so both replay the released test data
    # (120 requests a minute); prod plans for its autoscaling set point (2 instances x 750
    # invocations a minute) and replays nothing. Staging lives on the replay alone: A/B at
    # 50% (judge-paced, and the one strategy whose answers name the fleet, so the replay's
    # labelled accuracy is compared), with a 5-point accuracy margin, what 60 replayed rows a
    # minute per model can show within the bake (README); prod's 25% linear steps get 15
    # minutes each (the judge needs 10, see README).
    return {
        "dev": dict(
            endpoint=EndpointSettings(instance_count=1, min_capacity=1, max_capacity=2),
            deployment=DeploymentSettings(strategy="all_at_once", wait_interval_seconds=300),
            judge=JudgeSettings(bake_time_seconds=300),
            traffic=TrafficSettings(
                expected_requests_per_minute=60, replay_requests_per_minute=120
            ),
        ),
        "staging": dict(
            deployment=DeploymentSettings(
                strategy="ab", ab_weight_steps=(50, 100), wait_interval_seconds=1800
            ),
            judge=JudgeSettings(bake_time_seconds=3600, quality_margin=0.05),
            traffic=TrafficSettings(expected_requests_per_minute=0, replay_requests_per_minute=120),
        ),
        "prod": dict(
            production=True,
            endpoint=EndpointSettings(instance_count=2, min_capacity=2, max_capacity=6),
            deployment=DeploymentSettings(
                strategy="linear",
                linear_step_percent=25,
                wait_interval_seconds=900,
                max_execution_timeout_seconds=5400,
            ),
            judge=JudgeSettings(bake_time_seconds=1800),
            traffic=TrafficSettings(expected_requests_per_minute=1500),
        ),
    }


def default_config(
    overrides: Mapping[str, Any] | None = None,
    pipeline_overrides: Mapping[str, Any] | None = None,
) -> AppConfig:
    """The shipped dev/staging/prod configuration, with overrides applied.

    `overrides` maps an environment name to field values, e.g.
    {"prod": {"account": "123456789012", "region": "eu-west-1",
              "deployment": {"strategy": "linear"}}};
    `pipeline_overrides` sets PipelineSettings fields, e.g. {"source": "codeconnections"}.
    """
    overrides = overrides or {}
    if not isinstance(overrides, Mapping):
        fail("environments", f"must be a mapping of environment names to settings {got(overrides)}")
    shipped = _shipped_environments()
    unknown = sorted(set(overrides) - set(shipped))
    if unknown:
        raise ConfigError(
            "env", f"unknown environment {unknown[0]!r} (known: {', '.join(shipped)})"
        )
    environments = tuple(
        from_mapping(
            EnvironmentConfig,
            overrides.get(name, {}),
            path=f"environments.{name}",
            defaults=defaults,
            fixed={"name": name},
        )
        for name, defaults in shipped.items()
    )
    pipeline = from_mapping(PipelineSettings, pipeline_overrides or {}, path="pipeline")
    return AppConfig(environments=environments, pipeline=pipeline)


def config_from_context(get_context: Callable[[str], Any]) -> AppConfig:
    """The config from CDK context: each key an object (cdk.json) or a JSON string (`-c`)."""
    return default_config(
        _context_mapping(get_context, ENVIRONMENTS_CONTEXT_KEY),
        _context_mapping(get_context, PIPELINE_CONTEXT_KEY),
    )


def _context_mapping(get_context: Callable[[str], Any], key: str) -> dict[str, Any]:
    raw = get_context(key) or {}
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError as error:
            raise ConfigError(key, f"not valid JSON ({error.msg})") from None
    if not isinstance(raw, dict):
        raise ConfigError(key, "must be a JSON object of settings")
    return raw
