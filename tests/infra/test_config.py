"""Config validation: each bad value stops synthesis with a message naming the field."""

from __future__ import annotations

import pytest

from guardrails.config import SMOKE_TEST_PAYLOAD_MAX_BYTES
from infra.config import ConfigError, DeploymentSettings, default_config

ACCOUNT = {"account": "111111111111", "region": "us-east-1"}


def config_with(env: str, **values):
    overrides = {"prod": dict(ACCOUNT)}
    overrides[env] = {**overrides.get(env, {}), **values}
    return default_config(overrides)


def test_shipped_config_is_valid_with_a_prod_account():
    config = config_with("prod")
    assert [env.name for env in config.environments] == ["dev", "staging", "prod"]
    assert config.environment("prod").production


@pytest.mark.parametrize(
    ("env", "values", "field", "hint"),
    [
        ("staging", {"deployment": {"strategy": "big_bang"}}, "deployment.strategy", "canary"),
        ("staging", {"deployment": {"canary_percent": 60}}, "deployment.canary_percent", "50"),
        ("staging", {"deployment": {"canary_percent": 0}}, "deployment.canary_percent", "1"),
        ("staging", {"deployment": {"linear_step_percent": 5}}, "linear_step_percent", "10"),
        ("staging", {"deployment": {"rolling_batch_percent": 80}}, "rolling_batch_percent", "50"),
        ("staging", {"judge": {"bake_time_seconds": 30}}, "judge.bake_time_seconds", "60"),
        ("staging", {"deployment": {"wait_interval_seconds": 10}}, "wait_interval_seconds", "60"),
        (
            "staging",
            {"deployment": {"max_execution_timeout_seconds": 100}},
            "max_execution_timeout_seconds",
            "600",
        ),
        ("staging", {"judge": {"alpha": 0.9}}, "judge.alpha", "0.5"),
        ("staging", {"endpoint": {"instance_type": "m5.large"}}, "endpoint.instance_type", "ml."),
        ("staging", {"endpoint": {"instance_count": 0}}, "endpoint.instance_count", "1"),
        ("staging", {"account": "12345"}, "staging.account", "12 digits"),
        ("staging", {"region": "mars-1"}, "staging.region", "eu-west-1"),
        ("staging", {"notification_emails": ["not-an-email"]}, "notification_emails", "e-mail"),
        ("staging", {"deployment": {"ab_weight_steps": [5, 50]}}, "ab_weight_steps", "100"),
        ("staging", {"deployment": {"ab_weight_steps": [50, 5, 100]}}, "ab_weight_steps", "100"),
        ("staging", {"colour": "blue"}, "staging.colour", "unknown setting"),
        ("staging", {"judge": {"speed": 3}}, "judge.speed", "unknown setting"),
        ("prod", {"production": "yes"}, "prod.production", "true or false (got 'yes')"),
        (
            "staging",
            {"judge": {"interval_seconds": 90.5}},
            "interval_seconds",
            "whole number (got 90.5)",
        ),
        ("dev", {"endpoint": {"instance_count": 2.5}}, "instance_count", "whole number (got 2.5)"),
        ("dev", {"account": 111111111111}, "dev.account", "must be text"),
        ("dev", {"smoke_test_payload": "0.5," * 2048}, "smoke_test_payload", "4 KB (got 8192"),
        ("dev", {"smoke_test_payload": "  "}, "dev.smoke_test_payload", "not blank"),
    ],
)
def test_bad_values_name_the_field(env, values, field, hint):
    with pytest.raises(ConfigError) as error:
        config_with(env, **values)
    message = str(error.value)
    assert field in message
    assert hint in message
    assert "\n" not in message


def test_prod_without_an_account_is_refused():
    with pytest.raises(ConfigError, match=r"environments\.prod\.account: a production"):
        default_config({})


def test_unknown_environment_is_refused_with_the_known_ones():
    config = config_with("prod")
    with pytest.raises(ConfigError, match="unknown environment 'qa' .*dev, staging, prod"):
        config.select(["qa"])


def test_select_keeps_config_order():
    config = config_with("prod")
    assert [env.name for env in config.select(["prod", "dev"])] == ["dev", "prod"]
    assert len(config.select([])) == 3


def test_rolling_needs_two_instances():
    with pytest.raises(ConfigError, match="dev.endpoint.instance_count: rolling"):
        config_with("dev", deployment={"strategy": "rolling"})


def test_emails_may_be_a_comma_separated_string():
    config = config_with("staging", notification_emails="a@example.com, b@example.com")
    assert config.environment("staging").notification_emails == ("a@example.com", "b@example.com")


def test_endpoint_name_defaults_from_environment_name():
    assert config_with("prod").environment("prod").endpoint_name == "guardrails-prod"


def test_strategies_map_to_native_or_state_machine():
    assert DeploymentSettings(strategy="linear").is_native
    assert not DeploymentSettings(strategy="ab").is_native
    assert not DeploymentSettings(strategy="shadow").is_native


def test_pipeline_must_deploy_to_known_environments():
    from infra.config import AppConfig, PipelineSettings

    envs = config_with("prod").environments
    with pytest.raises(ConfigError, match="pipeline.deploy_environments: must be one of .*'qa'"):
        AppConfig(environments=envs, pipeline=PipelineSettings(deploy_environments=("qa",)))


def test_pipeline_settings_can_be_overridden_and_are_checked():
    config = default_config(
        {"prod": dict(ACCOUNT)}, {"source": "codeconnections", "repository_owner_and_name": "o/r"}
    )
    assert config.pipeline.source == "codeconnections"
    with pytest.raises(ConfigError, match="pipeline.colour: unknown setting"):
        default_config({"prod": dict(ACCOUNT)}, {"colour": "red"})
    with pytest.raises(ConfigError, match="pipeline.source: must be one of codecommit"):
        default_config({"prod": dict(ACCOUNT)}, {"source": "svn"})


@pytest.mark.parametrize(
    ("values", "field", "hint"),
    [
        ({"min_accuracy": 0.2}, "pipeline.min_accuracy", "0.5"),
        ({"min_auc": 1.5}, "pipeline.min_auc", "between 0.5 and 1"),
        ({"max_auc_drop": -0.1}, "pipeline.max_auc_drop", "between 0 and 0.5"),
        ({"training_instance_type": "m5.large"}, "pipeline.training_instance_type", "ml.m5"),
        ({"processing_instance_type": 3}, "pipeline.processing_instance_type", "must be text"),
        ({"approver_emails": ["nobody"]}, "pipeline.approver_emails", "'nobody'"),
        ({"deploy_environments": ["prod", "prod"]}, "pipeline.deploy_environments", "repeat"),
    ],
)
def test_bad_pipeline_values_name_the_field(values, field, hint):
    with pytest.raises(ConfigError) as error:
        default_config({"prod": dict(ACCOUNT)}, values)
    message = str(error.value)
    assert message.startswith(field)
    assert hint in message
    assert "\n" not in message


def test_approver_emails_may_be_a_comma_separated_string():
    config = default_config({"prod": dict(ACCOUNT)}, {"approver_emails": "a@example.com, b@x.io"})
    assert config.pipeline.approver_emails == ("a@example.com", "b@x.io")


THREE_ACCOUNTS = {
    "dev": {"account": "111111111111", "region": "us-east-1"},
    "staging": {"account": "222222222222", "region": "us-east-1"},
    "prod": {"account": "333333333333", "region": "us-east-1"},
}


def test_each_environment_may_be_in_an_account_of_its_own():
    config = default_config(THREE_ACCOUNTS)
    assert config.check_pipeline(None) is None  # no error; CodeCommit needs no connection
    assert [env.name for env in config.other_account_environments()] == ["staging", "prod"]


def test_the_host_may_be_a_deploy_target_and_others_may_share_its_account():
    config = default_config(
        {**THREE_ACCOUNTS, "staging": THREE_ACCOUNTS["dev"]},
        {"deploy_environments": ["dev", "staging", "prod"]},
    )
    config.check_pipeline(None)
    assert [env.name for env in config.other_account_environments()] == ["prod"]


def test_one_account_is_the_default_and_shares_nothing():
    same = {env: dict(ACCOUNT) for env in ("dev", "staging", "prod")}
    config = default_config(same)
    config.check_accounts()
    assert config.other_account_environments() == ()


def test_every_environment_must_be_in_the_hosts_region():
    config = default_config(
        {**THREE_ACCOUNTS, "staging": {"account": "222222222222", "region": "eu-west-1"}}
    )
    with pytest.raises(ConfigError) as error:
        config.check_pipeline(None)
    assert str(error.value) == (
        "environments.staging.region: must be the pipeline host dev's region us-east-1: "
        "SageMaker loads a model only from an S3 bucket in the endpoint's own region, and the "
        "released artifacts are in the host's (got 'eu-west-1')"
    )


def test_an_environment_agnostic_host_cannot_serve_an_explicit_account():
    config = default_config({"prod": dict(ACCOUNT)})
    with pytest.raises(ConfigError) as error:
        config.check_accounts()
    assert str(error.value).startswith(
        "environments.dev.account: the pipeline host dev needs an explicit account and region, "
        "since prod names its own (111111111111/us-east-1)"
    )


def test_an_explicit_host_needs_every_environment_explicit():
    config = default_config({"dev": dict(ACCOUNT), "prod": dict(ACCOUNT)})
    with pytest.raises(
        ConfigError,
        match="^environments.staging.account: must be set, like the pipeline host dev's",
    ):
        config.check_accounts()


def test_a_host_elsewhere_is_checked_the_same_way():
    config = default_config(
        {**THREE_ACCOUNTS, "dev": {"account": "111111111111", "region": "eu-west-1"}},
        {"host_environment": "staging"},
    )
    with pytest.raises(
        ConfigError,
        match="^environments.dev.region: must be the pipeline host staging's region us-east-1",
    ):
        config.check_accounts()


def test_context_settings_may_be_objects_or_json_strings():
    from infra.config import config_from_context

    context = {
        "guardrails:environments": '{"prod": {"account": "111111111111", "region": "us-east-1"}}',
        "guardrails:pipeline": {"branch": "release"},
    }
    config = config_from_context(context.get)
    assert config.environment("prod").account == "111111111111"
    assert config.pipeline.branch == "release"


@pytest.mark.parametrize(
    ("raw", "message"),
    [("{oops", "guardrails:environments: not valid JSON"), ("[1]", "must be a JSON object")],
)
def test_malformed_context_names_the_key(raw, message):
    from infra.config import config_from_context

    with pytest.raises(ConfigError, match=message):
        config_from_context({"guardrails:environments": raw}.get)


def test_the_largest_smoke_test_payload_is_accepted():
    payload = "é" * (SMOKE_TEST_PAYLOAD_MAX_BYTES // 2)  # two bytes each in UTF-8
    assert config_with("dev", smoke_test_payload=payload).environment("dev").smoke_test_payload
    with pytest.raises(ConfigError, match="got 1025 bytes"):
        config_with("dev", smoke_test_payload=payload + "x")


@pytest.mark.parametrize(
    ("names", "message"),
    [
        (
            {"prod": "guardrails-staging"},
            "environments.prod.endpoint_name: must differ from staging's endpoint name: two "
            "rollouts and two locks would guard one endpoint (got 'guardrails-staging')",
        ),
        (
            {"prod": "Guardrails-Dev"},
            "environments.prod.endpoint_name: must differ from dev's endpoint name",
        ),
        (
            {"dev": "guardrails"},
            "environments.dev.endpoint_name: must not be a prefix of staging's endpoint name "
            "'guardrails-staging': dev's rollout could create models and configs in staging's "
            "name space (got 'guardrails')",
        ),
        (
            {"prod": "guardrails-dev-2"},
            "environments.dev.endpoint_name: must not be a prefix of prod's endpoint name",
        ),
        (
            {"dev": "m" * 44 + "-dev", "prod": "m" * 44 + "-prod"},
            "environments.prod.endpoint_name: must differ from dev's endpoint name in its first "
            "44 characters",
        ),
    ],
)
def test_endpoint_names_must_not_overlap_across_environments(names, message):
    overrides = {env: {"endpoint_name": name} for env, name in names.items()}
    overrides["prod"] = {**ACCOUNT, **overrides.get("prod", {})}
    with pytest.raises(ConfigError) as error:
        default_config(overrides)
    assert str(error.value).startswith(message)


def test_distinct_endpoint_names_are_accepted():
    names = {"dev": "fraud-dev", "staging": "fraud-staging", "prod": "fraud"}
    overrides = {env: {"endpoint_name": name} for env, name in names.items()}
    overrides["prod"].update(ACCOUNT)
    with pytest.raises(ConfigError, match="environments.prod.endpoint_name: must not be a prefix"):
        default_config(overrides)  # "fraud" starts "fraud-dev"
    overrides["prod"]["endpoint_name"] = "fraud-prod"
    config = default_config(overrides)
    assert [env.endpoint_name for env in config.environments] == [
        "fraud-dev",
        "fraud-staging",
        "fraud-prod",
    ]
