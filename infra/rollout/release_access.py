"""What the tooling account's pipeline may do in a deploy environment: one role it assumes.

Also the derived names the pipeline host's policies use for this environment's rollout: the
state machine the role starts, and the steps that read the pipeline's packages and released
models (infra/environment/identities.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import cast

import aws_cdk as cdk
import aws_cdk.aws_iam as iam
import aws_cdk.aws_lambda as lambda_
import aws_cdk.aws_stepfunctions as sfn
from constructs import Construct

from infra.environment.identities import (
    RELEASE_ACCESS_ROLE,
    RELEASE_READING_STEPS,
    PipelinePrincipals,
    Placement,
    rollout_role_purpose,
)
from infra.nag import acknowledge_wildcards


class ReleaseAccess(Construct):
    """The role the pipeline assumes to run this environment's rollout, and nothing more.

    Trusted only by the tooling account's pipeline roles: CodePipeline's role (the Deploy stage's
    Step Functions action) and the package-state function's role (a rejected package's
    rollback), named by `aws:PrincipalArn` with the tooling account as principal, so the roles
    need not exist first and a recreated one is trusted again. It may start the rollout state
    machine (and describe it, which CodePipeline's action does first), follow and stop its
    executions, and read which model package the endpoint serves (the package-state function
    rolls back only the environments that serve a rejected package); it changes nothing else.
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        placement: Placement,
        pipeline: PipelinePrincipals,
        state_machine: sfn.IStateMachine,
        endpoint_name: str,
    ) -> None:
        super().__init__(scope, id_)
        stack = cdk.Stack.of(self)
        self.role = iam.Role(
            self,
            "Role",
            role_name=placement.role_name(RELEASE_ACCESS_ROLE),
            assumed_by=iam.AccountPrincipal(pipeline.account).with_conditions(
                {"ArnEquals": {"aws:PrincipalArn": list(pipeline.role_arns)}}
            ),
            description=f"Guardrails pipeline in {pipeline.account}: runs the {placement.name} "
            "rollout and reads what its endpoint serves",
        )

        def sagemaker(resource: str, name: str) -> str:
            return stack.format_arn(service="sagemaker", resource=resource, resource_name=name)

        configs, models = sagemaker("endpoint-config", "*"), sagemaker("model", "*")
        statements = [
            iam.PolicyStatement(
                actions=["states:StartExecution", "states:DescribeStateMachine"],
                resources=[state_machine.state_machine_arn],
            ),
            iam.PolicyStatement(
                actions=["states:DescribeExecution", "states:StopExecution"],
                resources=[placement.rollout_executions_arn],
            ),
            iam.PolicyStatement(
                actions=["sagemaker:DescribeEndpoint"],
                resources=[sagemaker("endpoint", endpoint_name.lower())],
            ),
            iam.PolicyStatement(actions=["sagemaker:DescribeEndpointConfig"], resources=[configs]),
            iam.PolicyStatement(
                actions=["sagemaker:DescribeModel", "sagemaker:ListTags"], resources=[models]
            ),
        ]
        for statement in statements:
            self.role.add_to_policy(statement)
        acknowledge_wildcards(
            self.role,
            "The pipeline follows and may stop the rollout executions it starts (execution "
            "names are generated per pipeline execution), and reads the endpoint config and "
            "models behind the endpoint, whose names CloudFormation and the rollouts generate.",
            resources=[placement.rollout_executions_arn, configs, models],
        )


def name_release_readers(functions: Mapping[str, lambda_.IFunction], placement: Placement) -> None:
    """Give the rollout steps that read the pipeline's packages and released models their names.

    The pipeline host's registry, bucket and key policies name these roles (they cannot import
    another account's exports), so each gets its derived name.
    """
    for step in RELEASE_READING_STEPS:
        role = functions[step].role
        if role is None:
            raise ValueError(f"rollout step {step} has no role to name")
        cfn_role = cast(iam.CfnRole, role.node.default_child)
        cfn_role.role_name = placement.role_name(rollout_role_purpose(step))
