"""The guarded endpoint of one environment: its rollback alarms and its reconciler.

The stack provisions only what needs no model. It reads the serving model from the stateful
stack's SSM parameter (a CloudFormation parameter whose default is the parameter's name, so
`cdk deploy` needs no `--parameters`, and CloudFormation resolves the latest value on every
deploy); the reconciler makes the endpoint match it (docs/architecture.md, "Who owns what").
"""

from __future__ import annotations

import aws_cdk as cdk
import aws_cdk.aws_iam as iam
from constructs import Construct

from infra.config import EnvironmentConfig
from infra.environment.alarms import EndpointAlarms
from infra.environment.endpoint_reconciler import EndpointReconciler
from stacks.stateful_stack import StatefulStack


class EndpointStack(cdk.Stack):
    """Rollback alarms, and the endpoint reconciled with the serving model on every deploy."""

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        config: EnvironmentConfig,
        stateful: StatefulStack,
        **kwargs,
    ) -> None:
        super().__init__(scope, id_, **kwargs)
        serving_model = cdk.CfnParameter(
            self,
            "ServingModel",
            type="AWS::SSM::Parameter::Value<String>",
            default=stateful.serving_model.parameter_name,
            description="What serves, as the rollout last wrote it (resolved on every deploy; "
            "never pass another value).",
        )
        alarms = EndpointAlarms(
            self,
            "Alarms",
            endpoint_name=config.endpoint_name,
            variant_name=config.endpoint.variant_name,
            max_5xx_error_rate=config.endpoint.max_5xx_error_rate,
            max_model_latency_ms=config.endpoint.max_model_latency_ms,
            topic=stateful.topic,
        )
        self.alarms = alarms
        # SageMaker checks the rollback alarms with the model's execution role.
        iam.Policy(
            self,
            "AlarmAccess",
            roles=[stateful.model_role],
            statements=[
                iam.PolicyStatement(
                    actions=["cloudwatch:DescribeAlarms"],
                    resources=[alarm.alarm_arn for alarm in alarms.rollback_alarms],
                )
            ],
        )
        self.reconciler = EndpointReconciler(
            self,
            "Endpoint",
            environment=config.name,
            endpoint_name=config.endpoint_name,
            production=config.production,
            shape=config.endpoint,
            serving_model=serving_model.value_as_string,
            state_machine_name=config.rollout_state_machine_name,
            table=stateful.table,
            topic=stateful.topic,
        )
        cdk.CfnOutput(self, "EndpointName", value=config.endpoint_name)
        cdk.CfnOutput(
            self,
            "ReconcileAction",
            value=self.reconciler.resource.get_att_string("Action"),
            description="What this deploy did to the endpoint (see ReconcileReason)",
        )
        cdk.CfnOutput(
            self,
            "ReconcileReason",
            value=self.reconciler.resource.get_att_string("Reason"),
        )
