"""A Lambda function of the guardrails package: its own role and encrypted logs, traced."""

from __future__ import annotations

from collections.abc import Mapping

import aws_cdk as cdk
import aws_cdk.aws_iam as iam
import aws_cdk.aws_lambda as lambda_
import aws_cdk.aws_sqs as sqs
from constructs import Construct

from infra.dependencies import depend_only_on_policy
from infra.encrypted_logs import EncryptedLogs
from infra.lambda_code import RUNTIME

DEFAULT_TIMEOUT = cdk.Duration.seconds(60)
DEFAULT_MEMORY_MB = 256


class GuardrailsFunction:
    """A function running `handler` with its own role and encrypted, retained log group.

    `handler` is the full dotted path ("guardrails.rollout.handlers.judge"): data, so the
    runtime package may move its handlers without this construct knowing where they live.

    It adds `<id_prefix>Role`, `<id_prefix>Logs` and `<id_prefix>Function` to `scope` rather
    than a scope of its own, so ids stay where they are: the rollout's steps sit side by side
    in one scope (`JudgeRole`, `JudgeFunction`, ...), a lone function fills a scope of its own
    with no prefix (`MarkApproved/Role`, ...). These ids feed logical IDs: keep them.

    A function invoked asynchronously (by EventBridge) gets a `dead_letter_queue` for the
    events it failed on after Lambda's own retries.
    """

    def __init__(
        self,
        scope: Construct,
        *,
        id_prefix: str = "",
        handler: str,
        description: str,
        environment: Mapping[str, str],
        code: lambda_.Code,
        logs: EncryptedLogs,
        timeout: cdk.Duration = DEFAULT_TIMEOUT,
        memory_size: int = DEFAULT_MEMORY_MB,
        role_description: str | None = None,
        role: iam.IRole | None = None,
        dead_letter_queue: sqs.IQueue | None = None,
    ) -> None:
        module, _, function = handler.rpartition(".")
        if not module or not function:
            raise ValueError(f"handler must be a dotted module.function path (got {handler!r})")
        # A role made elsewhere (the approval step's, which a bucket policy names) or its own.
        self.role: iam.IRole = role or iam.Role(
            scope,
            f"{id_prefix}Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=role_description or description,
        )
        self.log_group = logs.log_group(scope, f"{id_prefix}Logs")
        self.log_group.grant_write(self.role)
        self.function = lambda_.Function(
            scope,
            f"{id_prefix}Function",
            description=description,
            runtime=RUNTIME,
            code=code,
            handler=handler,
            role=self.role,
            timeout=timeout,
            memory_size=memory_size,
            tracing=lambda_.Tracing.ACTIVE,
            log_group=self.log_group,
            environment=dict(environment),
            dead_letter_queue=dead_letter_queue,
        )
        if dead_letter_queue is not None and dead_letter_queue.encryption_master_key is not None:
            dead_letter_queue.encryption_master_key.grant_encrypt(self.role)
        depend_only_on_policy(self.function, self.role)
