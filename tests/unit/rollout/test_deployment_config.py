"""DeploymentConfig per strategy: the shape SageMaker and CloudFormation both accept."""

from __future__ import annotations

import pytest

from guardrails.rollout.deployment_config import build_deployment_config
from guardrails.rollout.settings import DeploymentSettings

ALARMS = ["errors", "latency", "verdict"]


def test_canary_routes_a_capacity_share_then_waits():
    config = build_deployment_config(
        DeploymentSettings(strategy="canary", canary_percent=5, wait_interval_seconds=300), ALARMS
    )
    assert config["BlueGreenUpdatePolicy"]["TrafficRoutingConfiguration"] == {
        "Type": "CANARY",
        "WaitIntervalInSeconds": 300,
        "CanarySize": {"Type": "CAPACITY_PERCENT", "Value": 5},
    }
    assert config["AutoRollbackConfiguration"] == {
        "Alarms": [{"AlarmName": "errors"}, {"AlarmName": "latency"}, {"AlarmName": "verdict"}]
    }


def test_linear_steps_by_capacity_share():
    config = build_deployment_config(
        DeploymentSettings(strategy="linear", linear_step_percent=20), ALARMS
    )
    routing = config["BlueGreenUpdatePolicy"]["TrafficRoutingConfiguration"]
    assert routing["Type"] == "LINEAR"
    assert routing["LinearStepSize"] == {"Type": "CAPACITY_PERCENT", "Value": 20}
    assert "CanarySize" not in routing


def test_all_at_once_has_no_step_size():
    config = build_deployment_config(DeploymentSettings(strategy="all_at_once"), ALARMS)
    routing = config["BlueGreenUpdatePolicy"]["TrafficRoutingConfiguration"]
    assert routing == {"Type": "ALL_AT_ONCE", "WaitIntervalInSeconds": 600}


def test_rolling_replaces_batches_and_rolls_back_all_at_once():
    config = build_deployment_config(
        DeploymentSettings(strategy="rolling", rolling_batch_percent=10), ALARMS
    )
    assert "BlueGreenUpdatePolicy" not in config
    policy = config["RollingUpdatePolicy"]
    assert policy["MaximumBatchSize"] == {"Type": "CAPACITY_PERCENT", "Value": 10}
    assert policy["RollbackMaximumBatchSize"] == {"Type": "CAPACITY_PERCENT", "Value": 100}
    assert policy["WaitIntervalInSeconds"] == 600


@pytest.mark.parametrize("strategy", ["ab", "shadow"])
def test_state_machine_strategies_fall_back_to_all_at_once(strategy):
    config = build_deployment_config(DeploymentSettings(strategy=strategy), ALARMS)
    assert config["BlueGreenUpdatePolicy"]["TrafficRoutingConfiguration"]["Type"] == "ALL_AT_ONCE"


@pytest.mark.parametrize("alarms", [[], [f"a{i}" for i in range(11)]])
def test_alarm_count_outside_what_sagemaker_takes_is_refused(alarms):
    with pytest.raises(ValueError, match="rollback_alarm_names: SageMaker takes 1 to 10"):
        build_deployment_config(DeploymentSettings(strategy="canary"), alarms)
