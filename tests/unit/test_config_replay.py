"""The replay's limits in the app config: production opt-in, a share of capacity, one Lambda."""

from __future__ import annotations

import pytest

from guardrails.config import default_config
from guardrails.validation import ConfigError

PROD = {"account": "111111111111", "region": "eu-west-1"}


def config_with(env: str, **values):
    overrides = {"prod": dict(PROD)}
    overrides[env] = {**overrides.get(env, {}), **values}
    return default_config(overrides)


def refusal(env: str, **values) -> ConfigError:
    with pytest.raises(ConfigError) as refused:
        config_with(env, **values)
    assert "\n" not in str(refused.value)
    return refused.value


def test_dev_and_staging_replay_120_a_minute_and_prod_nothing():
    config = config_with("prod")
    rates = {env.name: env.traffic.replay_requests_per_minute for env in config.environments}
    assert rates == {"dev": 120, "staging": 120, "prod": 0}


def test_a_production_environment_replays_only_when_told_it_may():
    refused = refusal("prod", traffic={"replay_requests_per_minute": 60})
    assert refused.field == "environments.prod.traffic.replay_requests_per_minute"
    assert refused.rule == (
        "60 requests a minute of test data into a production endpoint: set "
        "traffic.replay_in_production to true to allow it, or 0 to replay nothing"
    )
    allowed = config_with(
        "prod", traffic={"replay_requests_per_minute": 60, "replay_in_production": True}
    )
    assert allowed.environment("prod").traffic.replays


def test_the_replay_is_bounded_by_a_quarter_of_the_autoscaling_floor():
    # dev: 1 instance at its floor x 750 invocations a minute -> at most 187.
    refused = refusal("dev", traffic={"replay_requests_per_minute": 188})
    assert refused.field == "environments.dev.traffic.replay_requests_per_minute"
    assert refused.rule.startswith("must be at most 187: a quarter of the endpoint's capacity")
    assert "(got 188)" in refused.rule
    assert config_with("dev", traffic={"replay_requests_per_minute": 187})
    # A larger floor allows more.
    staging = config_with("staging", traffic={"replay_requests_per_minute": 375})
    assert staging.environment("staging").traffic.replay_requests_per_minute == 375


def test_one_lambda_must_cover_a_judge_interval():
    refused = refusal("staging", judge={"interval_seconds": 900, "max_bake_time_seconds": 86400})
    assert refused.field == "environments.staging.judge.interval_seconds"
    assert "must be at most 840 s while the environment replays" in refused.rule
    # Without the replay the judge may look as rarely as it likes.
    assert config_with(
        "staging",
        judge={"interval_seconds": 900, "max_bake_time_seconds": 86400},
        traffic={"replay_requests_per_minute": 0, "expected_requests_per_minute": None},
    )


def test_turning_stagings_replay_off_without_traffic_stops_synth():
    refused = refusal("staging", traffic={"replay_requests_per_minute": 0})
    assert refused.field == "environments.staging.traffic.expected_requests_per_minute"
    assert "the judge needs more than a day" in refused.rule
    assert "replay test data (traffic.replay_requests_per_minute)" in refused.rule
