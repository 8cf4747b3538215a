"""The rollout's Lambda functions: one per step, each allowed only what its step does."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import aws_cdk as cdk
import aws_cdk.aws_cloudwatch as cloudwatch
import aws_cdk.aws_dynamodb as dynamodb
import aws_cdk.aws_iam as iam
import aws_cdk.aws_kms as kms
import aws_cdk.aws_lambda as lambda_
import aws_cdk.aws_sns as sns
from constructs import Construct

from infra import lambda_code
from infra.dependencies import depend_only_on_policy
from infra.encrypted_logs import EncryptedLogs
from infra.lambda_code import RUNTIME
from infra.rollout.permissions import RolloutPermissions

# Construct id -> (handler module, timeout in seconds, what the step may do).
STEPS: dict[str, tuple[str, int, tuple[str, ...]]] = {
    "Start": ("start", 60, ("records", "notify", "read_endpoint", "read_model_packages")),
    "Deploy": (
        "deploy",
        120,
        ("records", "read_endpoint", "update_endpoint", "create_models", "read_alarms"),
    ),
    "Judge": ("judge", 120, ("records", "notify", "read_endpoint", "read_metrics", "verdict")),
    "Shift": ("shift", 60, ("records", "read_endpoint", "update_endpoint", "read_alarms")),
    "Rollback": ("rollback", 60, ("records", "read_endpoint", "update_endpoint", "verdict")),
    "SmokeTest": ("smoke_test", 60, ("records", "read_endpoint", "invoke")),
    "Finish": ("finish", 60, ("records", "notify", "read_endpoint")),
    "RecordFailure": (
        "failed",
        60,
        ("records", "notify", "read_endpoint", "update_endpoint", "verdict"),
    ),
    "ExecutionEnded": (
        "execution_ended",
        60,
        ("records", "notify", "read_endpoint", "update_endpoint", "verdict"),
    ),
}


class RolloutFunctions(Construct):
    """One function per rollout step, sharing one code asset; logs encrypted, traced."""

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        environment: Mapping[str, str],
        endpoint_name: str,
        table: dynamodb.ITableV2,
        topic: sns.ITopic,
        key: kms.IKey,
        model_role: iam.IRole,
        rollback_alarms: Sequence[cloudwatch.IAlarm],
        logs: EncryptedLogs,
    ) -> None:
        super().__init__(scope, id_)
        permissions = RolloutPermissions(
            self,
            endpoint_name=endpoint_name,
            table=table,
            topic=topic,
            key=key,
            model_role=model_role,
            rollback_alarms=rollback_alarms,
        )
        code = lambda_code.runtime_code()
        self.functions: dict[str, lambda_.Function] = {}
        for step, (module, timeout, capabilities) in STEPS.items():
            role = iam.Role(
                self,
                f"{step}Role",
                assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
                description=f"Rollout step {step} of endpoint {endpoint_name}",
            )
            log_group = logs.log_group(self, f"{step}Logs")
            log_group.grant_write(role)
            self.functions[step] = lambda_.Function(
                self,
                f"{step}Function",
                description=f"Guardrails rollout of {endpoint_name}: {step}",
                runtime=RUNTIME,
                code=code,
                handler=f"guardrails.handlers.{module}.handler",
                role=role,
                timeout=cdk.Duration.seconds(timeout),
                memory_size=256,
                tracing=lambda_.Tracing.ACTIVE,
                log_group=log_group,
                environment=dict(environment),
            )
            permissions.grant(role, capabilities)
            permissions.acknowledge(role, capabilities)
            depend_only_on_policy(self.functions[step], role)

    def __getitem__(self, step: str) -> lambda_.Function:
        return self.functions[step]
