"""The rollout Lambdas' settings: environment variables set by CDK, parsed once, typed.

Pure: the caller passes the environment mapping (handlers pass os.environ). A missing or garbled
variable raises SettingsError naming it, so a bad deployment fails on its first step, loudly.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from guardrails.deployment_config import NATIVE_STRATEGIES, GuardrailSettings

ENVIRONMENT = "GUARDRAILS_ENVIRONMENT"
REGION = "AWS_REGION"  # set by Lambda itself
ENDPOINT_NAME = "ENDPOINT_NAME"
VARIANT_NAME = "VARIANT_NAME"
TABLE_NAME = "TABLE_NAME"
TOPIC_ARN = "TOPIC_ARN"
MODEL_ROLE_ARN = "MODEL_ROLE_ARN"
ROLLBACK_ALARM_NAMES = "ROLLBACK_ALARM_NAMES"  # JSON list
DEPLOYMENT_SETTINGS = "DEPLOYMENT_SETTINGS"  # JSON object: infra.config.DeploymentSettings
JUDGE_SETTINGS = "JUDGE_SETTINGS"  # JSON object: infra.config.JudgeSettings
SMOKE_TEST_PAYLOAD = "SMOKE_TEST_PAYLOAD"

STRATEGY_KINDS = {**{s: "native" for s in NATIVE_STRATEGIES}, "ab": "ab", "shadow": "shadow"}
DEFAULT_QUALITY_MARGIN = 0.01  # largest accepted drop in labelled accuracy (absolute)


class SettingsError(ValueError):
    """A rollout setting is missing or invalid; the message names the variable."""


@dataclass(frozen=True, kw_only=True)
class DeploymentRules:
    """How the new model reaches traffic."""

    strategy: str
    wait_interval_seconds: int  # between traffic shifts
    ab_weight_steps: tuple[int, ...]  # A/B: the candidate's weight % per step
    guardrail: GuardrailSettings  # SageMaker's DeploymentConfig for native strategies

    @property
    def kind(self) -> str:
        """ "native" (SageMaker shifts traffic), "ab" or "shadow" (the state machine does)."""
        return STRATEGY_KINDS[self.strategy]


@dataclass(frozen=True, kw_only=True)
class JudgeRules:
    """The judge's statistics and timings."""

    alpha: float
    min_samples: int
    error_rate_margin: float
    max_error_rate: float
    latency_margin_ms: float
    max_latency_ms: float
    interval_seconds: int
    bake_time_seconds: int
    max_bake_time_seconds: int
    quality_margin: float = DEFAULT_QUALITY_MARGIN


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
    deployment: DeploymentRules
    judge: JudgeRules
    smoke_test_payload: str
    smoke_test_content_type: str = "text/csv"


def load_settings(environ: Mapping[str, str]) -> RolloutSettings:
    """RolloutSettings from the Lambda environment, or SettingsError naming the variable."""
    deployment = _json_object(environ, DEPLOYMENT_SETTINGS)
    judge = _json_object(environ, JUDGE_SETTINGS)
    alarms = _json(environ, ROLLBACK_ALARM_NAMES)
    if (
        not isinstance(alarms, list)
        or not alarms
        or not all(isinstance(a, str) and a for a in alarms)
    ):
        raise SettingsError(f"{ROLLBACK_ALARM_NAMES}: must be a non-empty JSON list of names")
    return RolloutSettings(
        environment=_text(environ, ENVIRONMENT),
        region=environ.get(REGION, ""),
        endpoint_name=_text(environ, ENDPOINT_NAME),
        variant_name=_text(environ, VARIANT_NAME),
        table_name=_text(environ, TABLE_NAME),
        topic_arn=_text(environ, TOPIC_ARN),
        model_role_arn=_text(environ, MODEL_ROLE_ARN),
        rollback_alarm_names=tuple(alarms),
        deployment=_deployment(deployment),
        judge=_judge(judge),
        smoke_test_payload=_text(environ, SMOKE_TEST_PAYLOAD),
    )


def settings_environment(
    *,
    environment: str,
    endpoint_name: str,
    variant_name: str,
    deployment: Mapping[str, Any],
    judge: Mapping[str, Any],
    smoke_test_payload: str,
) -> dict[str, str]:
    """The plain-text part of the environment (CDK adds table, topic, role and alarm names)."""
    return {
        ENVIRONMENT: environment,
        ENDPOINT_NAME: endpoint_name,
        VARIANT_NAME: variant_name,
        DEPLOYMENT_SETTINGS: json.dumps(dict(deployment), sort_keys=True),
        JUDGE_SETTINGS: json.dumps(dict(judge), sort_keys=True),
        SMOKE_TEST_PAYLOAD: smoke_test_payload,
    }


def _text(environ: Mapping[str, str], name: str) -> str:
    value = environ.get(name, "")
    if not value.strip():
        raise SettingsError(f"{name}: required environment variable is missing or empty")
    return value


def _json(environ: Mapping[str, str], name: str) -> Any:
    try:
        return json.loads(_text(environ, name))
    except json.JSONDecodeError as error:
        raise SettingsError(f"{name}: not valid JSON ({error.msg})") from None


def _json_object(environ: Mapping[str, str], name: str) -> Mapping[str, Any]:
    value = _json(environ, name)
    if not isinstance(value, dict):
        raise SettingsError(f"{name}: must be a JSON object")
    return value


def _number(source: str, values: Mapping[str, Any], key: str, *, whole: bool = False) -> Any:
    value = values.get(key)
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or value < 0
        or (whole and value != int(value))
    ):
        kind = "a whole number" if whole else "a number"
        raise SettingsError(f"{source}.{key}: must be {kind} >= 0 (got {value!r})")
    return int(value) if whole else float(value)


def _deployment(values: Mapping[str, Any]) -> DeploymentRules:
    source = DEPLOYMENT_SETTINGS
    strategy = values.get("strategy")
    if strategy not in STRATEGY_KINDS:
        raise SettingsError(
            f"{source}.strategy: must be one of {', '.join(STRATEGY_KINDS)} (got {strategy!r})"
        )
    steps = values.get("ab_weight_steps", [100])
    if (
        not isinstance(steps, list)
        or not steps
        or not all(isinstance(s, int) and not isinstance(s, bool) and 0 < s <= 100 for s in steps)
    ):
        raise SettingsError(f"{source}.ab_weight_steps: must be a list of percents (got {steps!r})")
    whole = {
        key: _number(source, values, key, whole=True)
        for key in (
            "canary_percent",
            "linear_step_percent",
            "wait_interval_seconds",
            "rolling_batch_percent",
            "termination_wait_seconds",
            "max_execution_timeout_seconds",
        )
    }
    return DeploymentRules(
        strategy=strategy,
        wait_interval_seconds=whole["wait_interval_seconds"],
        ab_weight_steps=tuple(steps),
        guardrail=GuardrailSettings(strategy=strategy, **whole),
    )


def _judge(values: Mapping[str, Any]) -> JudgeRules:
    source = JUDGE_SETTINGS
    reals = ("alpha", "error_rate_margin", "max_error_rate", "latency_margin_ms", "max_latency_ms")
    wholes = ("min_samples", "interval_seconds", "bake_time_seconds", "max_bake_time_seconds")
    numbers: dict[str, Any] = {key: _number(source, values, key) for key in reals}
    numbers.update({key: _number(source, values, key, whole=True) for key in wholes})
    if "quality_margin" in values:
        numbers["quality_margin"] = _number(source, values, "quality_margin")
    return JudgeRules(**numbers)
