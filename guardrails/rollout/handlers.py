"""Lambda entry points of the rollout's steps (`guardrails.rollout.handlers.<step>`).

Every handler is the same adapter: parse the event into a typed request (EventError names a bad
field), run one step with the container's settings and AWS seams, count it, answer with the
step's result. Throttling that outlasted botocore's retries becomes TransientError, which the
state machine retries.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import replace
from functools import cache
from typing import Any, Protocol, TypeVar

from aws_lambda_powertools.utilities.typing import LambdaContext

from guardrails.observability import count, instrumented, logger
from guardrails.rollout import ending, steps
from guardrails.rollout import replay as replaying
from guardrails.rollout.context import RolloutContext
from guardrails.rollout.replay import JudgeRound
from guardrails.rollout.settings import load_settings
from guardrails.rollout.state import (
    EndedExecution,
    FailureReport,
    FinishRequest,
    StartRequest,
    step_state,
)
from guardrails.services import clients
from guardrails.services.autoscaling import AutoscalingSeam
from guardrails.services.cloudwatch import CloudWatchSeam
from guardrails.services.errors import transient_errors
from guardrails.services.sagemaker import SageMakerSeam
from guardrails.services.sns import Notifier
from guardrails.services.ssm import ServingModelParameter
from guardrails.services.stepfunctions import StepFunctionsSeam


class _Request(Protocol):
    @property
    def deployment_id(self) -> str: ...


class _Result(Protocol):
    def to_event(self) -> dict[str, Any]: ...


Request = TypeVar("Request", bound=_Request)
Result = TypeVar("Result", bound=_Result)
LambdaHandler = Callable[[dict[str, Any], LambdaContext], dict[str, Any]]


@cache
def rollout_context() -> RolloutContext:
    """Settings and seams, built once per Lambda container."""
    settings = load_settings(os.environ)
    return RolloutContext(
        settings=settings,
        sagemaker=SageMakerSeam(clients.client("sagemaker"), clients.client("sagemaker-runtime")),
        cloudwatch=CloudWatchSeam(clients.client("cloudwatch")),
        notifier=Notifier(clients.client("sns"), settings.topic_arn),
        table=clients.table(settings.table_name),
        serving_model=ServingModelParameter(
            clients.client("ssm"), settings.serving_model_parameter
        ),
        autoscaling=AutoscalingSeam(clients.client("application-autoscaling")),
        stepfunctions=StepFunctionsSeam(clients.client("stepfunctions")),
    )


@cache
def replay_context() -> RolloutContext:
    """The rollout's context with a runtime client that tries each replayed row once."""
    context = rollout_context()
    return replace(
        context,
        sagemaker=SageMakerSeam(
            clients.client("sagemaker"),
            clients.client("sagemaker-runtime", config=clients.ONE_ATTEMPT_CONFIG),
        ),
    )


def step_handler(
    parse: Callable[[Any], Request],
    run: Callable[[Request, RolloutContext], Result],
    *,
    counter: str | Callable[[Request, Result], str],
) -> LambdaHandler:
    """The Lambda handler of one rollout step."""

    @instrumented
    def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        request = parse(event)
        logger.append_keys(deployment_id=request.deployment_id)
        with transient_errors():
            result = run(request, rollout_context())
        count(counter if isinstance(counter, str) else counter(request, result))
        answer = result.to_event()
        logger.info(
            "step done",
            extra={k: answer[k] for k in ("action", "result", "note", "error") if answer.get(k)},
        )
        return answer

    return handler


start = step_handler(StartRequest.parse, steps.start, counter="RolloutsStarted")
deploy = step_handler(step_state, steps.deploy, counter="EndpointUpdatesStarted")
judge = step_handler(
    JudgeRound.parse,
    lambda round_, ctx: steps.judge(round_.state, ctx, replay=round_.replay),
    counter="JudgeRounds",
)
replay = step_handler(
    step_state, lambda state, _: replaying.replay(state, replay_context()), counter="ReplayRounds"
)
shift = step_handler(
    step_state,
    steps.shift,
    counter=lambda request, _: f"Traffic{request.action.capitalize()}",
)
rollback = step_handler(step_state, ending.rollback, counter="Rollbacks")
smoke_test = step_handler(step_state, ending.smoke_test, counter="SmokeTestsPassed")
finish = step_handler(
    FinishRequest.parse,
    lambda request, ctx: ending.finish(request.state, request.expected, ctx),
    counter=lambda _, state: f"Rollouts{state.result.title().replace('_', '')}",
)
record_failure = step_handler(
    FailureReport.parse,
    ending.record_failure,
    # RolloutsFailed pages on-call (OperationsAlarms): only failures this round recorded.
    counter=lambda _, result: (
        "RolloutsFailed" if result.settled and result.recorded else "FailureRounds"
    ),
)
execution_ended = step_handler(
    EndedExecution.parse,
    ending.execution_ended,
    counter=lambda ended, _: f"EndedExecutions{ended.status.title().replace('_', '')}",
)
