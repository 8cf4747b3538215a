"""guardrails/release/settings.py: the release Lambdas' environment, typed and checked."""

from __future__ import annotations

import json

import pytest

from guardrails.release.record import S3Location
from guardrails.release.settings import load_approval_settings, load_release_settings
from guardrails.validation import ConfigError

PROD_ACCESS = "arn:aws:iam::333333333333:role/guardrails-prod-release-access-us-east-1"
TARGETS = json.dumps(
    [
        {
            "environment": "staging",
            "endpoint_name": "guardrails-staging",
            "state_machine_arn": "s",
            "access_role_arn": "arn:aws:iam::222222222222:role/guardrails-staging-release-access",
        },
        {
            "environment": "prod",
            "endpoint_name": "guardrails-prod",
            "state_machine_arn": "p",
            "access_role_arn": PROD_ACCESS,
        },
    ]
)
ENVIRON = {
    "MODEL_PACKAGE_GROUP_NAME": "guardrails-dev",
    "DEPLOYMENT_TABLE_NAME": "table",
    "ON_CALL_TOPIC_ARN": "topic",
    "DEPLOY_TARGETS": TARGETS,
    "RELEASED_BUCKET": "released",
    "TRAINED_ARTIFACTS_URI": "s3://artifacts/model-pipeline/runs/",
}


def test_settings_keep_the_deploy_order():
    settings = load_release_settings(ENVIRON)
    assert [t.environment for t in settings.targets] == ["staging", "prod"]
    assert settings.targets[1].endpoint_name == "guardrails-prod"
    assert settings.targets[1].access_role_arn == PROD_ACCESS
    assert settings.released_bucket == "released"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"ON_CALL_TOPIC_ARN": ""}, "ON_CALL_TOPIC_ARN: required"),
        ({"DEPLOY_TARGETS": "[{"}, "DEPLOY_TARGETS: not valid JSON"),
        ({"DEPLOY_TARGETS": "{}"}, "DEPLOY_TARGETS: must be a JSON list"),
        (
            {"DEPLOY_TARGETS": '[{"environment": "prod"}]'},
            r"DEPLOY_TARGETS\[0\]: missing 3 required",
        ),
        (
            {"DEPLOY_TARGETS": TARGETS.replace(PROD_ACCESS, "")},
            r"DEPLOY_TARGETS\[1\].access_role_arn: required",
        ),
        (
            {"DEPLOY_TARGETS": TARGETS.replace(PROD_ACCESS, "guardrails-prod-release-access")},
            r"DEPLOY_TARGETS\[1\].access_role_arn: must look like arn:aws:iam::",
        ),
    ],
)
def test_bad_settings_name_the_variable(changes, message):
    with pytest.raises(ConfigError, match=message):
        load_release_settings({**ENVIRON, **changes})


def test_the_approval_needs_the_group_and_where_it_copies_from_and_to():
    settings = load_approval_settings(ENVIRON)
    assert settings.group_name == "guardrails-dev"
    assert settings.released_bucket == "released"
    assert settings.trained_artifacts == S3Location("artifacts", "model-pipeline/runs/")
    with pytest.raises(ConfigError, match="MODEL_PACKAGE_GROUP_NAME: required"):
        load_approval_settings({**ENVIRON, "MODEL_PACKAGE_GROUP_NAME": ""})


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("artifacts/runs/", "must be an s3://bucket/prefix/ URI"),
        ("s3://artifacts", "must be an s3://bucket/prefix/ URI"),
        ("s3://artifacts/model-pipeline/runs", "must end with /"),
    ],
)
def test_the_trained_artifacts_prefix_is_checked(uri, message):
    with pytest.raises(ConfigError, match=f"^TRAINED_ARTIFACTS_URI: {message}"):
        load_approval_settings({**ENVIRON, "TRAINED_ARTIFACTS_URI": uri})
