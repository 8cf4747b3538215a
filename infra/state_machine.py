"""A Step Functions state machine that logs every event, with data, to encrypted logs; traced."""

from __future__ import annotations

from collections.abc import Sequence

import aws_cdk as cdk
import aws_cdk.aws_iam as iam
import aws_cdk.aws_lambda as lambda_
import aws_cdk.aws_stepfunctions as sfn
from constructs import Construct

from infra.dependencies import depend_only_on_policy
from infra.encrypted_logs import EncryptedLogs
from infra.nag import acknowledge_wildcards


class LoggedStateMachine:
    """A state machine with X-Ray tracing and ALL-level logs (execution data included).

    Like GuardrailsFunction, it adds its state machine (`id_`) and log group (`log_group_id`)
    to `scope` rather than a scope of its own, so their ids (and logical IDs) stay where they
    are. The wildcards Step Functions needs for log delivery and X-Ray, and for invoking any
    version of `invoked_functions`, are acknowledged on its role with their reasons.
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        log_group_id: str,
        logs: EncryptedLogs,
        comment: str,
        definition: sfn.IChainable,
        timeout: cdk.Duration,
        invoked_functions: Sequence[lambda_.IFunction] = (),
        state_machine_name: str | None = None,  # a derived name, where other accounts name it
    ) -> None:
        self.log_group = logs.log_group(scope, log_group_id)
        self.state_machine = sfn.StateMachine(
            scope,
            id_,
            state_machine_name=state_machine_name,
            comment=comment,
            definition_body=sfn.DefinitionBody.from_chainable(definition),
            timeout=timeout,
            tracing_enabled=True,
            logs=sfn.LogOptions(
                destination=self.log_group, level=sfn.LogLevel.ALL, include_execution_data=True
            ),
        )
        self.role: iam.IRole = self.state_machine.role
        depend_only_on_policy(self.state_machine, self.role)
        acknowledge_wildcards(
            self.role,
            "Step Functions delivers logs through log delivery APIs and writes X-Ray traces; "
            "neither has a resource scope.",
            resources=["*"],
        )
        if invoked_functions:
            acknowledge_wildcards(
                self.role,
                "CDK lets the state machine invoke any version of each function it invokes "
                "(<function ARN>:*); they are only its own functions.",
                resources=[f"{function.function_arn}:*" for function in invoked_functions],
            )
