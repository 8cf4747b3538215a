"""The rollout's Lambda functions: one per step, each allowed only what its step does."""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

import aws_cdk as cdk
import aws_cdk.aws_lambda as lambda_
import aws_cdk.aws_sqs as sqs
from constructs import Construct

from guardrails.rollout.settings import REPLAY_TIMEOUT_MARGIN_SECONDS
from infra import lambda_code
from infra.encrypted_logs import EncryptedLogs
from infra.lambda_function import GuardrailsFunction
from infra.rollout.permissions import RolloutPermissions


class Step(NamedTuple):
    """One rollout step's function: what it runs, how long it may take, what it may do."""

    handler: str  # full dotted path of the Lambda handler
    timeout_seconds: int
    capabilities: tuple[str, ...]  # see RolloutPermissions
    invoked_by_events: bool = False  # asynchronously, by an EventBridge rule: dead letters


# A failed or ended rollout: record it, tell on-call, put the endpoint back (a first deploy's:
# delete it), then record what serves and make it scale again.
_CLEAN_UP: tuple[str, ...] = ("records", "notify", "read_endpoint", "update_endpoint", "verdict")
_CLEAN_UP += ("delete_endpoint", "serving_model", "register_scaling")
# Construct id prefix -> step; the ids feed logical IDs (RolloutFunctionsJudgeRole...).
STEPS: dict[str, Step] = {
    "Start": Step(
        "guardrails.rollout.handlers.start",
        60,
        ("records", "notify", "read_endpoint", "read_model_packages", "verify_release"),
    ),
    "Deploy": Step(
        "guardrails.rollout.handlers.deploy",
        120,
        (
            "records",
            "read_endpoint",
            "update_endpoint",
            "create_models",
            "read_alarms",
            "verify_release",
        )
        + ("create_endpoint", "deregister_scaling"),  # first deploy; instance type change
    ),
    "Judge": Step(
        "guardrails.rollout.handlers.judge",
        120,
        ("records", "notify", "read_endpoint", "read_metrics", "verdict"),
    ),
    "Shift": Step(
        "guardrails.rollout.handlers.shift",
        60,
        ("records", "read_endpoint", "update_endpoint", "read_alarms"),
    ),
    "Rollback": Step(
        "guardrails.rollout.handlers.rollback",
        60,
        ("records", "read_endpoint", "update_endpoint", "verdict") + ("delete_endpoint",),
    ),
    "SmokeTest": Step(
        "guardrails.rollout.handlers.smoke_test", 60, ("records", "read_endpoint", "invoke")
    ),
    "Finish": Step(
        "guardrails.rollout.handlers.finish",
        60,
        ("records", "notify", "read_endpoint") + ("serving_model", "register_scaling"),
    ),
    "RecordFailure": Step("guardrails.rollout.handlers.record_failure", 60, _CLEAN_UP),
    "ExecutionEnded": Step(
        "guardrails.rollout.handlers.execution_ended", 60, _CLEAN_UP, invoked_by_events=True
    ),
}

# Only where the environment replays test data (traffic.replay_requests_per_minute > 0): the
# step takes the judge loop's wait, so it runs a whole judge interval.
REPLAY = "Replay"
REPLAY_CAPABILITIES = (
    "records",  # the lock, renewed each round
    "read_model_packages",  # the release record: where the test data is, its SHA-256
    "read_test_data",
    "invoke",
    "quality",
)


def replay_step(interval_seconds: int) -> Step:
    """The Replay step's function: a judge interval of requests, then the round's counts."""
    return Step(
        "guardrails.rollout.handlers.replay",
        interval_seconds + REPLAY_TIMEOUT_MARGIN_SECONDS,
        REPLAY_CAPABILITIES,
    )


class RolloutFunctions(Construct):
    """One function per rollout step, sharing one code asset; each granted its capabilities.

    `replay`: the Replay step's function too (`replay_step`), where the environment replays.
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        environment: Mapping[str, str],
        endpoint_name: str,
        permissions: RolloutPermissions,
        logs: EncryptedLogs,
        dead_letter_queue: sqs.IQueue,
        replay: Step | None = None,
    ) -> None:
        super().__init__(scope, id_)
        code = lambda_code.runtime_code()
        self.functions: dict[str, lambda_.Function] = {}
        steps = {**STEPS, **({REPLAY: replay} if replay is not None else {})}
        for name, step in steps.items():
            function = GuardrailsFunction(
                self,
                id_prefix=name,
                handler=step.handler,
                description=f"Guardrails rollout of {endpoint_name}: {name}",
                role_description=f"Rollout step {name} of endpoint {endpoint_name}",
                environment=environment,
                code=code,
                logs=logs,
                timeout=cdk.Duration.seconds(step.timeout_seconds),
                dead_letter_queue=dead_letter_queue if step.invoked_by_events else None,
            )
            permissions.grant(function.role, step.capabilities)
            permissions.acknowledge(function.role, step.capabilities)
            self.functions[name] = function.function

    def __getitem__(self, step: str) -> lambda_.Function:
        return self.functions[step]
