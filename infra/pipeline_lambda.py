"""The model pipeline's Lambda functions: shared package, encrypted logs, traced."""

from __future__ import annotations

from collections.abc import Mapping

import aws_cdk as cdk
import aws_cdk.aws_iam as iam
import aws_cdk.aws_lambda as lambda_
from constructs import Construct

from infra.dependencies import depend_only_on_policy
from infra.encrypted_logs import EncryptedLogs
from infra.lambda_code import RUNTIME


class PipelineFunction(Construct):
    """A guardrails.handlers function with its own role and encrypted, retained log group."""

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        handler: str,
        description: str,
        environment: Mapping[str, str],
        code: lambda_.Code,
        logs: EncryptedLogs,
    ) -> None:
        super().__init__(scope, id_)
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=description,
        )
        log_group = logs.log_group(self, "Logs")
        log_group.grant_write(self.role)
        self.function = lambda_.Function(
            self,
            "Function",
            description=description,
            runtime=RUNTIME,
            code=code,
            handler=f"guardrails.release.handlers.{handler}",
            role=self.role,
            timeout=cdk.Duration.seconds(60),
            memory_size=256,
            tracing=lambda_.Tracing.ACTIVE,
            log_group=log_group,
            environment=dict(environment),
        )
        depend_only_on_policy(self.function, self.role)
