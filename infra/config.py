"""Typed, validated configuration for each deployment environment.

Pure data: no CDK imports and no environment reads, so the CLI and tests can use it too.
Every field is validated on construction; a bad value raises ConfigError naming the field.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field, fields, replace
from typing import Any

from guardrails.deployment_config import GuardrailSettings

STRATEGIES = ("all_at_once", "canary", "linear", "rolling", "ab", "shadow")
NATIVE_STRATEGIES = ("all_at_once", "canary", "linear", "rolling")
SOURCE_KINDS = ("codecommit", "codeconnections")

_ACCOUNT = re.compile(r"^\d{12}$")
_REGION = re.compile(r"^[a-z]{2}(-gov)?-[a-z]+-\d$")
_INSTANCE_TYPE = re.compile(r"^ml\.[a-z0-9]+\.[a-z0-9]+$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_ENDPOINT_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
_ENV_NAME = re.compile(r"^[a-z][a-z0-9]{0,15}$")


ENVIRONMENTS_CONTEXT_KEY = "guardrails:environments"
PIPELINE_CONTEXT_KEY = "guardrails:pipeline"


class ConfigError(ValueError):
    """A configuration value is invalid; the message names the field."""


def _fail(path: str, message: str) -> None:
    raise ConfigError(f"{path}: {message}")


def _check_range(path: str, value: float, low: float, high: float, unit: str = "") -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        _fail(path, f"must be between {low} and {high}{unit} (got {value!r})")


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

    def validate(self, path: str) -> None:
        if not _INSTANCE_TYPE.match(self.instance_type):
            _fail(
                f"{path}.instance_type", f"must look like ml.m5.large (got {self.instance_type!r})"
            )
        _check_range(f"{path}.instance_count", self.instance_count, 1, 100)
        if not _ENDPOINT_NAME.match(self.variant_name):
            _fail(f"{path}.variant_name", "must be 1-63 letters, digits or hyphens")
        _check_range(f"{path}.min_capacity", self.min_capacity, 1, 100)
        _check_range(f"{path}.max_capacity", self.max_capacity, self.min_capacity, 100)
        if not self.min_capacity <= self.instance_count <= self.max_capacity:
            _fail(f"{path}.instance_count", "must lie between min_capacity and max_capacity")
        _check_range(
            f"{path}.target_invocations_per_instance", self.target_invocations_per_instance, 1, 1e6
        )
        _check_range(f"{path}.data_capture_percent", self.data_capture_percent, 0, 100, " %")
        _check_range(f"{path}.max_5xx_error_rate", self.max_5xx_error_rate, 0.0001, 1)
        _check_range(f"{path}.max_model_latency_ms", self.max_model_latency_ms, 1, 3_600_000, " ms")


@dataclass(frozen=True, kw_only=True)
class DeploymentSettings:
    """The guardrail used to roll a new model out, and its timings."""

    strategy: str = "canary"  # one of STRATEGIES
    canary_percent: int = 10  # canary: share of the new fleet's capacity, 1-50 %
    linear_step_percent: int = 25  # linear: step size, 10-50 % of the new fleet's capacity
    wait_interval_seconds: int = 600  # bake time between traffic shifts, >= 60 s
    rolling_batch_percent: int = 25  # rolling: batch size, 5-50 % of the fleet
    termination_wait_seconds: int = 300  # keep the old fleet this long after the shift, 0-3600 s
    max_execution_timeout_seconds: int = 3600  # whole blue/green or rolling update, 600-28800 s
    ab_weight_steps: tuple[int, ...] = (5, 25, 50, 100)  # ab: candidate weight % per step

    def validate(self, path: str) -> None:
        if self.strategy not in STRATEGIES:
            _fail(
                f"{path}.strategy",
                f"must be one of {', '.join(STRATEGIES)} (got {self.strategy!r})",
            )
        _check_range(f"{path}.canary_percent", self.canary_percent, 1, 50, " %")
        _check_range(f"{path}.linear_step_percent", self.linear_step_percent, 10, 50, " %")
        _check_range(f"{path}.wait_interval_seconds", self.wait_interval_seconds, 60, 3600, " s")
        _check_range(f"{path}.rolling_batch_percent", self.rolling_batch_percent, 5, 50, " %")
        _check_range(
            f"{path}.termination_wait_seconds", self.termination_wait_seconds, 0, 3600, " s"
        )
        _check_range(
            f"{path}.max_execution_timeout_seconds",
            self.max_execution_timeout_seconds,
            600,
            28800,
            " s",
        )
        steps = self.ab_weight_steps
        if (
            not steps
            or any(isinstance(s, bool) or not isinstance(s, int) for s in steps)
            or list(steps) != sorted(set(steps))
            or steps[0] < 1
            or steps[-1] != 100
        ):
            _fail(
                f"{path}.ab_weight_steps",
                f"must be increasing whole percents from >= 1 ending at 100 (got {list(steps)!r})",
            )

    def guardrail(self) -> GuardrailSettings:
        """The settings that shape SageMaker's DeploymentConfig."""
        return GuardrailSettings(
            strategy=self.strategy,
            canary_percent=self.canary_percent,
            linear_step_percent=self.linear_step_percent,
            wait_interval_seconds=self.wait_interval_seconds,
            rolling_batch_percent=self.rolling_batch_percent,
            termination_wait_seconds=self.termination_wait_seconds,
            max_execution_timeout_seconds=self.max_execution_timeout_seconds,
        )

    @property
    def is_native(self) -> bool:
        """True when SageMaker's own DeploymentConfig carries the guardrail."""
        return self.strategy in NATIVE_STRATEGIES


@dataclass(frozen=True, kw_only=True)
class JudgeSettings:
    """The sequential judge's statistics and how long a rollout may bake."""

    alpha: float = 0.05  # false-rollback budget across all metrics
    min_samples: int = 100  # canary requests before any promotion
    error_rate_margin: float = 0.005  # largest accepted rise in error rate (absolute)
    max_error_rate: float = 0.01  # ceiling on the canary's error rate
    latency_margin_ms: float = 5.0  # largest accepted rise in mean model latency, ms
    max_latency_ms: float = 500.0  # ceiling on the canary's mean model latency, ms
    interval_seconds: int = 60  # how often the judge looks, >= 60 s (CloudWatch resolution)
    bake_time_seconds: int = 600  # least time a rollout bakes before it may promote, >= 60 s
    max_bake_time_seconds: int = 7200  # a rollout undecided by then is rolled back

    def validate(self, path: str) -> None:
        _check_range(f"{path}.alpha", self.alpha, 0.001, 0.5)
        _check_range(f"{path}.min_samples", self.min_samples, 1, 10_000_000)
        _check_range(f"{path}.error_rate_margin", self.error_rate_margin, 1e-6, 1)
        _check_range(f"{path}.max_error_rate", self.max_error_rate, 1e-6, 1)
        _check_range(f"{path}.latency_margin_ms", self.latency_margin_ms, 0.001, 1e6, " ms")
        _check_range(f"{path}.max_latency_ms", self.max_latency_ms, 0.001, 3.6e6, " ms")
        _check_range(f"{path}.interval_seconds", self.interval_seconds, 60, 3600, " s")
        _check_range(f"{path}.bake_time_seconds", self.bake_time_seconds, 60, 86400, " s")
        _check_range(
            f"{path}.max_bake_time_seconds",
            self.max_bake_time_seconds,
            self.bake_time_seconds,
            86400,
            " s",
        )


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
    notification_emails: tuple[str, ...] = ()  # on-call subscribers of the SNS topic
    smoke_test_payload: str = "0.5,1.2,-0.3,0.8,0.1,-1.1,0.4,0.9"  # text/csv features

    def __post_init__(self) -> None:
        if not self.endpoint_name:
            object.__setattr__(self, "endpoint_name", f"guardrails-{self.name}")
        self.validate()

    def validate(self) -> None:
        path = f"environments.{self.name}"
        if not isinstance(self.name, str) or not _ENV_NAME.match(self.name):
            _fail("environments", f"name must be lower-case letters and digits (got {self.name!r})")
        if self.account is not None and not _ACCOUNT.match(str(self.account)):
            _fail(f"{path}.account", f"must be 12 digits (got {self.account!r})")
        if self.region is not None and not _REGION.match(str(self.region)):
            _fail(f"{path}.region", f"must look like eu-west-1 (got {self.region!r})")
        if (self.account is None) != (self.region is None):
            _fail(f"{path}.account", "account and region must be set together or both left unset")
        if self.production and self.account is None:
            _fail(
                f"{path}.account", "a production environment needs an explicit account and region"
            )
        if not _ENDPOINT_NAME.match(self.endpoint_name):
            _fail(f"{path}.endpoint_name", "must be 1-63 letters, digits or hyphens")
        for email in self.notification_emails:
            if not _EMAIL.match(email):
                _fail(f"{path}.notification_emails", f"not an e-mail address: {email!r}")
        self.endpoint.validate(f"{path}.endpoint")
        self.deployment.validate(f"{path}.deployment")
        self.judge.validate(f"{path}.judge")
        if self.deployment.strategy == "rolling" and self.endpoint.instance_count < 2:
            _fail(f"{path}.endpoint.instance_count", "rolling updates need at least 2 instances")

    @property
    def is_environment_agnostic(self) -> bool:
        return self.account is None


@dataclass(frozen=True, kw_only=True)
class PipelineSettings:
    """Where the model pipeline runs and where its source comes from."""

    host_environment: str = "dev"  # the environment whose account runs the pipeline
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

    def __post_init__(self) -> None:
        # Context may give the approvers as one comma-separated string, like notification_emails.
        if isinstance(self.approver_emails, str):
            emails = tuple(e.strip() for e in self.approver_emails.split(",") if e.strip())
            object.__setattr__(self, "approver_emails", emails)

    def validate(self, names: tuple[str, ...]) -> None:
        if self.host_environment not in names:
            _fail(
                "pipeline.host_environment",
                f"must be one of {', '.join(names)} (got {self.host_environment!r})",
            )
        if self.source not in SOURCE_KINDS:
            _fail(
                "pipeline.source", f"must be one of {', '.join(SOURCE_KINDS)} (got {self.source!r})"
            )
        if self.source == "codeconnections" and "/" not in self.repository_owner_and_name:
            _fail("pipeline.repository_owner_and_name", "must be owner/name for codeconnections")
        for env in self.deploy_environments:
            if env not in names:
                _fail("pipeline.deploy_environments", f"unknown environment {env!r}")
        _check_range("pipeline.min_auc", self.min_auc, 0.5, 1)
        _check_range("pipeline.max_auc_drop", self.max_auc_drop, 0, 0.5)
        if len(set(self.deploy_environments)) != len(self.deploy_environments):
            _fail(
                "pipeline.deploy_environments",
                f"must not repeat an environment (got {list(self.deploy_environments)!r})",
            )
        _check_range("pipeline.min_accuracy", self.min_accuracy, 0.5, 1)
        for name in ("processing_instance_type", "training_instance_type"):
            value = getattr(self, name)
            if not isinstance(value, str) or not _INSTANCE_TYPE.match(value):
                _fail(f"pipeline.{name}", f"must look like ml.m5.large (got {value!r})")
        for email in self.approver_emails:
            if not isinstance(email, str) or not _EMAIL.match(email):
                _fail("pipeline.approver_emails", f"not an e-mail address: {email!r}")

    def check_same_account(self, environments: tuple[EnvironmentConfig, ...]) -> None:
        """Every deploy environment must share the host's account and region (for now)."""
        by_name = {env.name: env for env in environments}
        host = by_name[self.host_environment]
        for name in self.deploy_environments:
            target = by_name[name]
            if (target.account, target.region) != (host.account, host.region):
                _fail(
                    "pipeline.deploy_environments",
                    f"{name} ({target.account or 'no account'}/{target.region or 'no region'}) "
                    f"must share the account and region of the host environment "
                    f"{host.name} ({host.account or 'no account'}/{host.region or 'no region'}); "
                    "cross-account deploys are not supported yet",
                )


@dataclass(frozen=True, kw_only=True)
class AppConfig:
    """All environments plus the pipeline that deploys across them."""

    environments: tuple[EnvironmentConfig, ...]
    pipeline: PipelineSettings = field(default_factory=PipelineSettings)

    def __post_init__(self) -> None:
        names = tuple(env.name for env in self.environments)
        if len(set(names)) != len(names):
            _fail("environments", f"names must be unique (got {list(names)!r})")
        self.pipeline.validate(names)

    def environment(self, name: str) -> EnvironmentConfig:
        """The named environment, or ConfigError listing the known ones."""
        for env in self.environments:
            if env.name == name:
                return env
        known = ", ".join(env.name for env in self.environments)
        raise ConfigError(f"env: unknown environment {name!r} (known: {known})")

    def select(self, names: list[str] | None) -> tuple[EnvironmentConfig, ...]:
        """The environments named (all when names is empty or None), in config order."""
        if not names:
            return self.environments
        wanted = [self.environment(n) for n in names]
        return tuple(env for env in self.environments if env in wanted)


def default_config(
    overrides: dict[str, dict[str, Any]] | None = None,
    pipeline_overrides: dict[str, Any] | None = None,
) -> AppConfig:
    """The shipped dev/staging/prod configuration, with overrides applied.

    `overrides` maps an environment name to field values, e.g.
    {"prod": {"account": "123456789012", "region": "eu-west-1",
              "deployment": {"strategy": "linear"}}};
    `pipeline_overrides` sets PipelineSettings fields, e.g. {"source": "codeconnections"}.
    """
    overrides = overrides or {}
    unknown = set(overrides) - {"dev", "staging", "prod"}
    if unknown:
        raise ConfigError(
            f"env: unknown environment {sorted(unknown)[0]!r} (known: dev, staging, prod)"
        )
    base = {
        "dev": dict(
            name="dev",
            endpoint=EndpointSettings(instance_count=1, min_capacity=1, max_capacity=2),
            deployment=DeploymentSettings(strategy="all_at_once", wait_interval_seconds=300),
            judge=JudgeSettings(bake_time_seconds=300),
        ),
        "staging": dict(
            name="staging",
            deployment=DeploymentSettings(strategy="canary", canary_percent=10),
        ),
        "prod": dict(
            name="prod",
            production=True,
            endpoint=EndpointSettings(instance_count=2, min_capacity=2, max_capacity=6),
            deployment=DeploymentSettings(strategy="linear", linear_step_percent=25),
            judge=JudgeSettings(bake_time_seconds=1800),
        ),
    }
    envs = []
    for name, values in base.items():
        envs.append(_apply(name, values, overrides.get(name, {})))
    return AppConfig(environments=tuple(envs), pipeline=_pipeline(pipeline_overrides or {}))


def _pipeline(override: dict[str, Any]) -> PipelineSettings:
    """PipelineSettings from an override mapping, checking every key."""
    if not isinstance(override, dict):
        _fail("pipeline", "must be a mapping of settings")
    known = {f.name for f in fields(PipelineSettings)}
    for key in override:
        if key not in known:
            _fail(f"pipeline.{key}", f"unknown setting (known: {', '.join(sorted(known))})")
    coerced: dict[str, Any] = {
        k: tuple(v) if isinstance(v, list) else v for k, v in override.items()
    }
    return PipelineSettings(**coerced)


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
            raise ConfigError(f"{key}: not valid JSON ({error.msg})") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{key}: must be a JSON object of settings")
    return raw


_NESTED = {"endpoint": EndpointSettings, "deployment": DeploymentSettings, "judge": JudgeSettings}


def _apply(name: str, base: dict[str, Any], override: dict[str, Any]) -> EnvironmentConfig:
    """Merge one environment's override into its defaults, checking every key."""
    values = dict(base)
    top_fields = {f.name for f in fields(EnvironmentConfig)}
    for key, value in override.items():
        path = f"environments.{name}.{key}"
        if key not in top_fields or key == "name":
            _fail(path, f"unknown setting (known: {', '.join(sorted(top_fields - {'name'}))})")
        if key in _NESTED:
            if not isinstance(value, dict):
                _fail(path, "must be a mapping of settings")
            cls = _NESTED[key]
            known = {f.name for f in fields(cls)}
            for sub in value:
                if sub not in known:
                    _fail(f"{path}.{sub}", f"unknown setting (known: {', '.join(sorted(known))})")
            current = values.get(key, cls())
            coerced = {k: tuple(v) if isinstance(v, list) else v for k, v in value.items()}
            try:
                values[key] = replace(current, **coerced)
            except TypeError as error:
                _fail(path, str(error))
        elif key == "notification_emails":
            if isinstance(value, str):
                value = tuple(e.strip() for e in value.split(",") if e.strip())
            values[key] = tuple(value)
        else:
            values[key] = value
    return EnvironmentConfig(**values)
