"""Lambda environment -> typed settings, with one clear error per bad variable."""

from __future__ import annotations

import json
from dataclasses import asdict

import pytest

from guardrails import settings
from infra.config import default_config
from tests.unit.rollout_doubles import environment


def shipped(**changes: str) -> dict[str, str]:
    env = environment(strategy="linear", deployment={}, judge={}, topic_arn="arn:aws:sns:t")
    return {**env, **changes}


def test_the_shipped_configs_parse_for_every_environment():
    app = default_config({"prod": {"account": "111111111111", "region": "eu-west-1"}})
    for config in app.environments:
        env = {
            **shipped(),
            **settings.settings_environment(
                environment=config.name,
                endpoint_name=config.endpoint_name,
                variant_name=config.endpoint.variant_name,
                deployment=asdict(config.deployment),
                judge=asdict(config.judge),
                smoke_test_payload=config.smoke_test_payload,
            ),
        }
        parsed = settings.load_settings(env)
        assert parsed.deployment.strategy == config.deployment.strategy
        assert parsed.judge.bake_time_seconds == config.judge.bake_time_seconds
        assert parsed.deployment.ab_weight_steps == config.deployment.ab_weight_steps


def test_settings_are_typed():
    parsed = settings.load_settings(shipped())
    assert parsed.deployment.kind == "native"
    assert parsed.deployment.guardrail.linear_step_percent == 25
    assert parsed.judge.interval_seconds == 60 and parsed.judge.alpha == 0.05
    assert parsed.judge.quality_margin == settings.DEFAULT_QUALITY_MARGIN
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
    ],
)
def test_a_bad_variable_is_named(changes, message):
    with pytest.raises(settings.SettingsError, match=message):
        settings.load_settings(shipped(**changes))


def test_a_bad_number_is_named():
    judge = json.loads(shipped()["JUDGE_SETTINGS"])
    judge["min_samples"] = 1.5
    with pytest.raises(settings.SettingsError, match="JUDGE_SETTINGS.min_samples: must be a whole"):
        settings.load_settings(shipped(JUDGE_SETTINGS=json.dumps(judge)))
    judge["min_samples"] = True
    with pytest.raises(settings.SettingsError, match="JUDGE_SETTINGS.min_samples"):
        settings.load_settings(shipped(JUDGE_SETTINGS=json.dumps(judge)))
