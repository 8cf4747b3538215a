"""SageMaker DeploymentConfig for each native guardrail strategy.

One builder serves CloudFormation (the endpoint stack) and the UpdateEndpoint call (the rollout
Lambda): both take the same PascalCase shape, so a strategy cannot mean two things.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from guardrails.rollout.settings import NATIVE_STRATEGIES, DeploymentSettings

# A/B and shadow are driven by the state machine; an infrastructure update of such an endpoint
# still goes through SageMaker's all-at-once blue/green with alarm rollback.
_FALLBACK_STRATEGY = "all_at_once"
MAX_ROLLBACK_ALARMS = 10


def build_deployment_config(
    settings: DeploymentSettings, rollback_alarm_names: Sequence[str]
) -> dict[str, Any]:
    """DeploymentConfig (API/CloudFormation shape) with auto-rollback on the given alarms."""
    if not 1 <= len(rollback_alarm_names) <= MAX_ROLLBACK_ALARMS:
        raise ValueError(
            f"rollback_alarm_names: SageMaker takes 1 to {MAX_ROLLBACK_ALARMS} alarms "
            f"(got {len(rollback_alarm_names)})"
        )
    strategy = settings.strategy if settings.strategy in NATIVE_STRATEGIES else _FALLBACK_STRATEGY
    rollback = {"Alarms": [{"AlarmName": name} for name in rollback_alarm_names]}
    if strategy == "rolling":
        batch = {"Type": "CAPACITY_PERCENT", "Value": settings.rolling_batch_percent}
        return {
            "RollingUpdatePolicy": {
                "MaximumBatchSize": batch,
                "WaitIntervalInSeconds": settings.wait_interval_seconds,
                "MaximumExecutionTimeoutInSeconds": settings.max_execution_timeout_seconds,
                "RollbackMaximumBatchSize": {"Type": "CAPACITY_PERCENT", "Value": 100},
            },
            "AutoRollbackConfiguration": rollback,
        }
    routing: dict[str, Any] = {
        "Type": strategy.upper(),
        "WaitIntervalInSeconds": settings.wait_interval_seconds,
    }
    if strategy == "canary":
        routing["CanarySize"] = {"Type": "CAPACITY_PERCENT", "Value": settings.canary_percent}
    elif strategy == "linear":
        routing["LinearStepSize"] = {
            "Type": "CAPACITY_PERCENT",
            "Value": settings.linear_step_percent,
        }
    return {
        "BlueGreenUpdatePolicy": {
            "TrafficRoutingConfiguration": routing,
            "TerminationWaitInSeconds": settings.termination_wait_seconds,
            "MaximumExecutionTimeoutInSeconds": settings.max_execution_timeout_seconds,
        },
        "AutoRollbackConfiguration": rollback,
    }
