"""guardrails/release/settings.py: the release Lambdas' environment, typed and checked."""

from __future__ import annotations

import json

import pytest

from guardrails.release.settings import load_approval_settings, load_release_settings
from guardrails.validation import ConfigError

TARGETS = json.dumps(
    [
        {"environment": "staging", "endpoint_name": "guardrails-staging", "state_machine_arn": "s"},
        {"environment": "prod", "endpoint_name": "guardrails-prod", "state_machine_arn": "p"},
    ]
)
ENVIRON = {
    "MODEL_PACKAGE_GROUP_NAME": "guardrails-dev",
    "DEPLOYMENT_TABLE_NAME": "table",
    "RELEASE_STATE_MACHINE_ARN": "release",
    "ON_CALL_TOPIC_ARN": "topic",
    "DEPLOY_TARGETS": TARGETS,
}


def test_settings_keep_the_deploy_order():
    settings = load_release_settings(ENVIRON)
    assert [t.environment for t in settings.targets] == ["staging", "prod"]
    assert settings.targets[1].endpoint_name == "guardrails-prod"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"ON_CALL_TOPIC_ARN": ""}, "ON_CALL_TOPIC_ARN: required"),
        ({"DEPLOY_TARGETS": "[{"}, "DEPLOY_TARGETS: not valid JSON"),
        ({"DEPLOY_TARGETS": "{}"}, "DEPLOY_TARGETS: must be a JSON list"),
        (
            {"DEPLOY_TARGETS": '[{"environment": "prod"}]'},
            r"DEPLOY_TARGETS\[0\]: missing 2 required",
        ),
    ],
)
def test_bad_settings_name_the_variable(changes, message):
    with pytest.raises(ConfigError, match=message):
        load_release_settings({**ENVIRON, **changes})


def test_the_approval_needs_the_group():
    assert load_approval_settings(ENVIRON).group_name == "guardrails-dev"
    with pytest.raises(ConfigError, match="MODEL_PACKAGE_GROUP_NAME: required"):
        load_approval_settings({})
