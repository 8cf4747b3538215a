"""Log groups retained three months and encrypted with a key of their stack's own.

In production the key and the log groups outlive their stack: a deleted stack must not take
the record of what its rollouts and approvals did with it, nor the key that can read it.
"""

from __future__ import annotations

import aws_cdk as cdk
import aws_cdk.aws_iam as iam
import aws_cdk.aws_kms as kms
import aws_cdk.aws_logs as logs
from constructs import Construct

RETENTION = logs.RetentionDays.THREE_MONTHS


class EncryptedLogs(Construct):
    """A key CloudWatch Logs may use, and a factory for log groups encrypted with it."""

    def __init__(self, scope: Construct, id_: str, *, description: str, retain: bool) -> None:
        super().__init__(scope, id_)
        stack = cdk.Stack.of(self)
        self._removal = cdk.RemovalPolicy.RETAIN if retain else cdk.RemovalPolicy.DESTROY
        # The environment's key lives in the stateful stack; admitting CloudWatch Logs to its
        # policy from another stack would tie the stacks in a cycle, so logs get their own key.
        self.key = kms.Key(
            self,
            "Key",
            description=description,
            enable_key_rotation=True,
            removal_policy=self._removal,
        )
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                actions=["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*",
                         "kms:Describe*"],
                principals=[iam.ServicePrincipal(f"logs.{stack.region}.amazonaws.com")],
                resources=["*"],
                conditions={
                    "ArnLike": {
                        "kms:EncryptionContext:aws:logs:arn": stack.format_arn(
                            service="logs",
                            resource="log-group",
                            resource_name="*",
                            arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
                        )
                    }
                },
            )
        )  # fmt: skip

    def log_group(self, scope: Construct, id_: str) -> logs.LogGroup:
        """A new log group in `scope`, encrypted with this key, its events kept three months."""
        return logs.LogGroup(
            scope,
            id_,
            retention=RETENTION,
            encryption_key=self.key,
            removal_policy=self._removal,
        )
