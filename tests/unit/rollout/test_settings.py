"""Lambda environment -> typed settings: the very classes the app's config builds, same checks."""

from __future__ import annotations

import json

import pytest

from guardrails.config import default_config
from guardrails.rollout import settings
from guardrails.rollout.settings import DeploymentSettings, JudgeSettings
from guardrails.validation import ConfigError
from tests.unit.rollout.doubles import environment


def shipped(**changes: str) -> dict[str, str]:
    env = environment(strategy="linear", deployment={}, judge={}, topic_arn="arn:aws:sns:t")
    return {**env, **changes}


def test_the_shipped_configs_round_trip_through_the_lambda_environment():
    app = default_config({"prod": {"account": "111111111111", "region": "eu-west-1"}})
    for config in app.environments:
        env = {
            **shipped(),
            **config.rollout_environment(),
        }
        parsed = settings.load_settings(env)
        assert parsed.endpoint == config.endpoint
        assert parsed.deployment == config.deployment
        assert parsed.judge == config.judge
        assert parsed.traffic == config.traffic


def test_settings_are_typed():
    parsed = settings.load_settings(shipped())
    assert parsed.deployment.kind == "native"
    assert parsed.deployment.linear_step_percent == 25
    assert parsed.judge.interval_seconds == 60 and parsed.judge.alpha == 0.05
    assert parsed.judge.quality_margin == JudgeSettings().quality_margin
    assert len(parsed.rollback_alarm_names) == 3


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"ENDPOINT_NAME": ""}, "ENDPOINT_NAME: required environment variable"),
        ({"JUDGE_SETTINGS": "{oops"}, "JUDGE_SETTINGS: not valid JSON"),
        ({"JUDGE_SETTINGS": "[]"}, "JUDGE_SETTINGS: must be a JSON object"),
        ({"ROLLBACK_ALARM_NAMES": "[]"}, "ROLLBACK_ALARM_NAMES: must be a non-empty JSON list"),
        (
            {"DEPLOYMENT_SETTINGS": json.dumps({"strategy": "yolo"})},
            "DEPLOYMENT_SETTINGS.strategy: must be one of",
        ),
        (
            {"JUDGE_SETTINGS": json.dumps({"alpah": 0.01})},
            "JUDGE_SETTINGS.alpah: unknown setting",
        ),
        ({"ENDPOINT_SETTINGS": ""}, "ENDPOINT_SETTINGS: required environment variable"),
        ({"SERVING_MODEL_PARAMETER": ""}, "SERVING_MODEL_PARAMETER: required environment"),
        ({"KMS_KEY_ARN": " "}, "KMS_KEY_ARN: required environment variable"),
        ({"DATA_CAPTURE_URI": ""}, "DATA_CAPTURE_URI: required environment variable"),
        (
            {"ENDPOINT_SETTINGS": json.dumps({"min_capacity": 3, "max_capacity": 2})},
            "ENDPOINT_SETTINGS.max_capacity: must be between 3 and 100",
        ),
    ],
)
def test_a_bad_variable_is_named(changes, message):
    with pytest.raises(ConfigError, match=message):
        settings.load_settings(shipped(**changes))


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (1.5, "JUDGE_SETTINGS.min_samples: must be a whole number"),
        (True, "JUDGE_SETTINGS.min_samples: must be a whole number"),
        ("100", "JUDGE_SETTINGS.min_samples: must be a whole number"),
        (0, "JUDGE_SETTINGS.min_samples: must be between 1 and"),
    ],
)
def test_a_bad_number_is_named(value, message):
    judge = json.loads(shipped()["JUDGE_SETTINGS"])
    judge["min_samples"] = value
    with pytest.raises(ConfigError, match=message):
        settings.load_settings(shipped(JUDGE_SETTINGS=json.dumps(judge)))


@pytest.mark.parametrize(
    ("cls", "values"),
    [
        (JudgeSettings, {"alpha": 0.9}),
        (JudgeSettings, {"bake_time_seconds": 600, "max_bake_time_seconds": 300}),
        (JudgeSettings, {"quality_margin": 0.0}),
        (DeploymentSettings, {"canary_percent": 60}),
        (DeploymentSettings, {"ab_weight_steps": [5, 50]}),
    ],
)
def test_the_lambda_refuses_what_synth_refuses(cls, values):
    """One definition: a value cdk.json may not set is refused on the Lambda side too."""
    name = {JudgeSettings: "judge", DeploymentSettings: "deployment"}[cls]
    with pytest.raises(ConfigError) as at_synth:
        default_config({"staging": {name: values}})
    variable = {JudgeSettings: "JUDGE_SETTINGS", DeploymentSettings: "DEPLOYMENT_SETTINGS"}[cls]
    raw = {**json.loads(shipped()[variable]), **values}
    with pytest.raises(ConfigError) as in_lambda:
        settings.load_settings(shipped(**{variable: json.dumps(raw)}))
    assert at_synth.value.rule == in_lambda.value.rule
    assert at_synth.value.field.split(".")[-1] == in_lambda.value.field.split(".")[-1]


def test_quality_margin_is_reachable_from_the_app_config():
    config = default_config(
        {
            "staging": {"judge": {"quality_margin": 0.08}},
            "prod": {"account": "111111111111", "region": "eu-west-1"},
        }
    )
    assert config.environment("staging").judge.quality_margin == 0.08


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"expected_requests_per_minute": -1}, "expected_requests_per_minute: must be between 0"),
        ({"replay_requests_per_minute": 601}, "replay_requests_per_minute: must be between 0"),
        ({"replay_requests_per_minute": 1.5}, "replay_requests_per_minute: must be a whole number"),
        ({"replay_in_production": "yes"}, "replay_in_production: must be true or false"),
        ({"expected_accuracy": 0.3}, "expected_accuracy: must be between 0.5 and 0.999"),
        ({"expected_requests_per_minute": "lots"}, "expected_requests_per_minute: must be a"),
        ({"expected_error_rate": 0.6}, "expected_error_rate: must be between 0 and 0.5"),
    ],
)
def test_bad_traffic_settings_are_named(values, message):
    with pytest.raises(ConfigError, match=f"environments.staging.traffic.{message}"):
        default_config({"staging": {"traffic": values}})


def test_traffic_is_reachable_from_the_app_config_and_may_skip_the_timing_check():
    config = default_config(
        {
            "staging": {"traffic": {"expected_requests_per_minute": None}},
            "prod": {"account": "111111111111", "region": "eu-west-1"},
        }
    )
    assert config.environment("staging").traffic.expected_requests_per_minute is None
    assert config.environment("prod").traffic.expected_requests_per_minute == 1500
