"""The rollout's Step Functions definition: states, retries and the judge loop.

Mode: {"cleanup": ...} input -> CleanUp -> the failure loop below; otherwise:
Start -> Deploy -> WaitForMetrics -> Judge -> Verdict:
  rollback -> Rollback -> FinishRollback -> RolloutEnded
  advance  -> ShiftTraffic -> WaitForMetrics          (A/B: the next weight step)
  complete -> Promote -> SmokeTest -> FinishPromotion -> RolloutEnded
  otherwise -> WaitForMetrics                          (the judge loop)
Where the environment replays test data, a Replay task takes WaitForMetrics' place: it sends
one judge interval of requests spread over it and leaves its counts in $.replay for the Judge.
Every task: Retry on transient errors, Catch -> PrepareFailure -> RecordFailure ->
FailureSettled: settled -> RolloutFailed (or CleanedUp); otherwise WaitToProtect ->
RecordFailure, once a minute, until the candidate is out (guardrails.rollout.ending).
The Rollback step retries every minute too: it republishes a held verdict each time.
"""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
import aws_cdk.aws_lambda as lambda_
import aws_cdk.aws_stepfunctions as sfn
import aws_cdk.aws_stepfunctions_tasks as tasks
from constructs import Construct

from guardrails.rollout.schedule import (
    BUSY_MAX_DELAY_SECONDS,
    HOLD_INTERVAL_SECONDS,
    PROVISIONING_ALLOWANCE_SECONDS,
    protection_deadline_seconds,
)
from guardrails.rollout.settings import REPLAY_TIMEOUT_MARGIN_SECONDS
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
_TASK_TIMEOUT_SECONDS = 180


def busy_retry_attempts(wait_seconds: int) -> int:
    """Attempts of the EndpointBusy retry so that its waits add up to at least `wait_seconds`."""
    total, delay, attempts = 0.0, float(_BUSY_INTERVAL), 0
    while total < wait_seconds:
        total += min(delay, BUSY_MAX_DELAY_SECONDS)
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
    busy_attempts = busy_retry_attempts(
        config.deployment.max_execution_timeout_seconds + PROVISIONING_ALLOWANCE_SECONDS
    )
    # Holding a verdict: a retry every minute, for as long as a failure's protection waits.
    hold_attempts = protection_deadline_seconds(config.deployment) // HOLD_INTERVAL_SECONDS
    rollout = {"rollout": sfn.JsonPath.object_at("$")}

    def task(
        id_: str,
        step: str,
        payload: sfn.TaskInput | None,
        *,
        waits: bool = False,
        holds: bool = False,
        timeout_seconds: int = _TASK_TIMEOUT_SECONDS,
        result_path: str | None = None,
    ) -> tasks.LambdaInvoke:
        """A Lambda step; without a payload the function gets the whole state."""
        function = functions[step]
        invoke = tasks.LambdaInvoke(
            scope,
            id_,
            lambda_function=function,
            payload=payload,
            payload_response_only=True,
            retry_on_service_exceptions=False,
            task_timeout=sfn.Timeout.duration(cdk.Duration.seconds(timeout_seconds)),
            result_path=result_path,
        )
        invoke.add_retry(
            errors=TRANSIENT_ERRORS,
            interval=cdk.Duration.seconds(2),
            backoff_rate=2,
            max_attempts=6,
            jitter_strategy=sfn.JitterType.FULL,
        )
        if holds:
            invoke.add_retry(
                errors=[ENDPOINT_BUSY],
                interval=cdk.Duration.seconds(HOLD_INTERVAL_SECONDS),
                backoff_rate=1,
                max_attempts=hold_attempts,
            )
        elif waits:
            invoke.add_retry(
                errors=[ENDPOINT_BUSY],
                interval=cdk.Duration.seconds(_BUSY_INTERVAL),
                backoff_rate=_BUSY_BACKOFF,
                max_delay=cdk.Duration.seconds(BUSY_MAX_DELAY_SECONDS),
                max_attempts=busy_attempts,
            )
        return invoke

    # The failure loop: one RecordFailure round a minute until the candidate is out.
    failed = sfn.Fail(
        scope, "RolloutFailed", error_path="$.summary.error", cause_path="$.summary.cause"
    )
    record_failure = task("RecordFailure", "RecordFailure", None)
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
    settled = (
        sfn.Choice(scope, "FailureSettled")
        .when(
            sfn.Condition.and_(
                sfn.Condition.boolean_equals("$.settled", True),
                sfn.Condition.boolean_equals("$.cleanup", True),
            ),
            sfn.Succeed(scope, "CleanedUp"),
        )
        .when(sfn.Condition.boolean_equals("$.settled", True), failed)
        .otherwise(
            sfn.Wait(
                scope,
                "WaitToProtect",
                time=sfn.WaitTime.duration(cdk.Duration.seconds(HOLD_INTERVAL_SECONDS)),
            ).next(record_failure)
        )
    )
    record_failure.next(settled)
    # The deployment id comes from the execution's name, never from the failed state.
    prepare_failure = sfn.Pass(
        scope,
        "PrepareFailure",
        parameters={
            "deployment_id": sfn.JsonPath.execution_name,
            "error": sfn.JsonPath.object_at("$.error"),
            "state": sfn.JsonPath.object_at("$"),
            "cleanup": False,
            "stuck": False,
        },
    ).next(record_failure)
    # A clean-up execution (started by ExecutionEnded) runs the same loop for the rollout
    # its input names.
    clean_up = sfn.Pass(
        scope,
        "CleanUp",
        parameters={
            "deployment_id": sfn.JsonPath.string_at("$.cleanup.deployment_id"),
            "error": sfn.JsonPath.object_at("$.cleanup.error"),
            "state": {},
            "cleanup": True,
            "stuck": sfn.JsonPath.object_at("$.cleanup.stuck"),
        },
    ).next(record_failure)

    def step(
        id_: str,
        function: str,
        payload: dict[str, Any] | None = None,
        *,
        waits: bool = False,
        holds: bool = False,
        timeout_seconds: int = _TASK_TIMEOUT_SECONDS,
        result_path: str | None = None,
    ) -> tasks.LambdaInvoke:
        state = task(
            id_,
            function,
            sfn.TaskInput.from_object(payload or rollout),
            waits=waits,
            holds=holds,
            timeout_seconds=timeout_seconds,
            result_path=result_path,
        )
        state.add_catch(prepare_failure, errors=[sfn.Errors.ALL], result_path="$.error")
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
    wait: sfn.Wait | tasks.LambdaInvoke
    if config.traffic.replays:
        # The function times out a margin after its interval; the task a margin after that.
        wait = step(
            "Replay",
            "Replay",
            timeout_seconds=config.judge.interval_seconds + 2 * REPLAY_TIMEOUT_MARGIN_SECONDS,
            result_path="$.replay",
        )
    else:
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
        step("Rollback", "Rollback", holds=True)
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
    rollout_chain = (
        start.next(step("Deploy", "Deploy")).next(wait).next(step("Judge", "Judge")).next(verdict)
    )
    return (
        sfn.Choice(scope, "Mode")
        .when(sfn.Condition.is_present("$.cleanup"), clean_up)
        .otherwise(rollout_chain)
    )
