"""The serving-model parameter of one environment: what serves, written by the rollout only.

CloudFormation creates it with "no model yet" (guardrails.rollout.serving.NO_MODEL) and never
writes it again, as long as the resource's template properties stay exactly as they are: an
update of an AWS::SSM::Parameter (its value, description, tier or tags) puts the template's
value back, which would say "no model yet" over the model that serves. Its logical ID and
properties are locked by tests/infra/test_serving_model.py for that reason.
"""

from __future__ import annotations

import aws_cdk as cdk
import aws_cdk.aws_iam as iam
import aws_cdk.aws_ssm as ssm
from constructs import Construct

from guardrails.rollout.serving import NO_MODEL, serving_model_parameter_name


class ServingModelParameter(Construct):
    """A String parameter named after the environment; `grant_write` is for rollouts only."""

    def __init__(self, scope: Construct, id_: str, *, environment: str, retain: bool) -> None:
        super().__init__(scope, id_)
        self.parameter_name = serving_model_parameter_name(environment)
        self.parameter = ssm.StringParameter(
            self,
            "Parameter",
            parameter_name=self.parameter_name,
            string_value=NO_MODEL.to_json(),
            description="Guardrails: the model package and endpoint config that serve "
            "(written by the rollout; never edit this resource's properties)",
            tier=ssm.ParameterTier.STANDARD,
        )
        self.parameter.apply_removal_policy(
            cdk.RemovalPolicy.RETAIN if retain else cdk.RemovalPolicy.DESTROY
        )

    def grant_write(self, role: iam.IRole) -> None:
        """PutParameter on this parameter and nothing else.

        The ARN is made from the fixed name in the grantee's stack: no export ties the stacks.
        """
        arn = cdk.Stack.of(role).format_arn(
            service="ssm", resource="parameter", resource_name=self.parameter_name.lstrip("/")
        )
        statement = iam.PolicyStatement(actions=["ssm:PutParameter"], resources=[arn])
        role.add_to_principal_policy(statement)
