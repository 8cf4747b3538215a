"""The rollout's Step Functions definition: states, retries and the judge loop.

Start -> Deploy -> WaitForMetrics -> Judge -> Verdict:
  rollback -> Rollback -> FinishRollback -> RolloutEnded
  advance  -> ShiftTraffic -> WaitForMetrics          (A/B: the next weight step)
  complete -> Promote -> SmokeTest -> FinishPromotion -> RolloutEnded
  otherwise -> WaitForMetrics                          (the judge loop)
Every task: Retry on transient errors, Catch -> RecordFailure -> RolloutFailed.
"""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
import aws_cdk.aws_lambda as lambda_
import aws_cdk.aws_stepfunctions as sfn
import aws_cdk.aws_stepfunctions_tasks as tasks
from constructs import Construct

from infra.config import EnvironmentConfig

TRANSIENT_ERRORS = [
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.ClientExecutionTimeoutException",
    "Lambda.TooManyRequestsException",
    "TransientError",
]
ENDPOINT_BUSY = "EndpointBusy"
_BUSY_INTERVAL = 30  # s, first wait for an endpoint that is still updating
_BUSY_BACKOFF = 1.5
_BUSY_MAX_DELAY = 300  # s


def busy_retry_attempts(wait_seconds: int) -> int:
    """Attempts of the EndpointBusy retry so that its waits add up to at least `wait_seconds`."""
    total, delay, attempts = 0.0, float(_BUSY_INTERVAL), 0
    while total < wait_seconds:
        total += min(delay, _BUSY_MAX_DELAY)
        delay *= _BUSY_BACKOFF
        attempts += 1
    return attempts


def state_machine_timeout(config: EnvironmentConfig) -> cdk.Duration:
    """Bake time, a SageMaker update at each end, and an hour for everything else."""
    seconds = (
        config.judge.max_bake_time_seconds
        + 2 * config.deployment.max_execution_timeout_seconds
        + 3600
    )
    return cdk.Duration.seconds(seconds)


def rollout_definition(
    scope: Construct, *, config: EnvironmentConfig, functions: dict[str, lambda_.IFunction]
) -> sfn.IChainable:
    """The chain of states; `functions` maps step construct ids to their Lambda functions."""
    # An update may take the whole native guardrail plus half an hour of provisioning.
    busy_attempts = busy_retry_attempts(config.deployment.max_execution_timeout_seconds + 1800)
    rollout = {"rollout": sfn.JsonPath.object_at("$")}

    def task(id_: str, step: str, payload: dict[str, Any], *, waits: bool) -> tasks.LambdaInvoke:
        function = functions[step]
        invoke = tasks.LambdaInvoke(
            scope,
            id_,
            lambda_function=function,
            payload=sfn.TaskInput.from_object(payload),
            payload_response_only=True,
            retry_on_service_exceptions=False,
            task_timeout=sfn.Timeout.duration(cdk.Duration.minutes(3)),
        )
        invoke.add_retry(
            errors=TRANSIENT_ERRORS,
            interval=cdk.Duration.seconds(2),
            backoff_rate=2,
            max_attempts=6,
            jitter_strategy=sfn.JitterType.FULL,
        )
        if waits:
            invoke.add_retry(
                errors=[ENDPOINT_BUSY],
                interval=cdk.Duration.seconds(_BUSY_INTERVAL),
                backoff_rate=_BUSY_BACKOFF,
                max_delay=cdk.Duration.seconds(_BUSY_MAX_DELAY),
                max_attempts=busy_attempts,
            )
        return invoke

    failed = sfn.Fail(scope, "RolloutFailed", error_path="$.error", cause_path="$.cause")
    record_failure = task(
        "RecordFailure",
        "RecordFailure",
        {"rollout": sfn.JsonPath.object_at("$"), "deployment_id": sfn.JsonPath.execution_name},
        waits=False,
    )
    record_failure.add_catch(
        sfn.Fail(
            scope,
            "FailureNotRecorded",
            error="FailureNotRecorded",
            cause="The rollout failed and recording the failure failed too: check the "
            "endpoint, the deployment record and the lock now.",
        ),
        errors=[sfn.Errors.ALL],
    )
    record_failure.next(failed)

    def step(
        id_: str, function: str, payload: dict[str, Any] | None = None, *, waits: bool = False
    ) -> tasks.LambdaInvoke:
        state = task(id_, function, payload or rollout, waits=waits)
        state.add_catch(record_failure, errors=[sfn.Errors.ALL], result_path="$.error")
        return state

    start = step(
        "Start",
        "Start",
        {
            "request": sfn.JsonPath.object_at("$"),
            "deployment_id": sfn.JsonPath.execution_name,
            "execution_arn": sfn.JsonPath.execution_id,
        },
    )
    wait = sfn.Wait(
        scope,
        "WaitForMetrics",
        time=sfn.WaitTime.duration(cdk.Duration.seconds(config.judge.interval_seconds)),
    )
    ended = (
        sfn.Choice(scope, "RolloutEnded")
        .when(sfn.Condition.string_equals("$.result", "PROMOTED"), sfn.Succeed(scope, "Promoted"))
        .when(
            sfn.Condition.string_equals("$.result", "ROLLED_BACK"),
            sfn.Fail(scope, "RolledBack", error="RolledBack", cause_path="$.note"),
        )
        .otherwise(sfn.Fail(scope, "NotVerified", error="NotVerified", cause_path="$.note"))
    )
    rollback = (
        step("Rollback", "Rollback", waits=True)
        .next(step("FinishRollback", "Finish", {**rollout, "expected": "rollback"}, waits=True))
        .next(ended)
    )
    promote = (
        step("Promote", "Shift", waits=True)
        .next(step("SmokeTest", "SmokeTest", waits=True))
        .next(step("FinishPromotion", "Finish", {**rollout, "expected": "promote"}, waits=True))
        .next(ended)
    )
    verdict = (
        sfn.Choice(scope, "Verdict")
        .when(sfn.Condition.string_equals("$.action", "rollback"), rollback)
        .when(
            sfn.Condition.string_equals("$.action", "advance"),
            step("ShiftTraffic", "Shift", waits=True).next(wait),
        )
        .when(sfn.Condition.string_equals("$.action", "complete"), promote)
        .otherwise(wait)
    )
    return (
        start.next(step("Deploy", "Deploy")).next(wait).next(step("Judge", "Judge")).next(verdict)
    )
