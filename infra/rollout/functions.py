"""The rollout's Lambda functions: one per step, each allowed only what its step does."""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

import aws_cdk as cdk
import aws_cdk.aws_lambda as lambda_
import aws_cdk.aws_sqs as sqs
from constructs import Construct

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


class RolloutFunctions(Construct):
    """One function per rollout step, sharing one code asset; each granted its capabilities."""

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
    ) -> None:
        super().__init__(scope, id_)
        code = lambda_code.runtime_code()
        self.functions: dict[str, lambda_.Function] = {}
        for name, step in STEPS.items():
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
