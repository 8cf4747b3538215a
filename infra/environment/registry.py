"""The SageMaker model package group that holds every candidate and approved model."""

from __future__ import annotations

from collections.abc import Sequence

import aws_cdk as cdk
import aws_cdk.aws_iam as iam
import aws_cdk.aws_sagemaker as sagemaker
from constructs import Construct

from infra.environment.identities import Placement


class ModelRegistry(Construct):
    """A model package group; its name is the environment's, since CloudFormation requires one.

    The pipeline host's group is shared with the environments in other accounts (`readers`):
    its resource policy lets each account's rollout steps, held by `aws:PrincipalArn`, describe
    the group's package versions, and nothing else. Within the host's account IAM decides.
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        group_name: str,
        retain: bool,
        readers: Sequence[Placement] = (),
    ) -> None:
        super().__init__(scope, id_)
        stack = cdk.Stack.of(self)
        packages = stack.format_arn(
            service="sagemaker", resource="model-package", resource_name=f"{group_name.lower()}/*"
        )
        policy = None
        if readers:
            policy = iam.PolicyDocument(
                statements=[
                    iam.PolicyStatement(
                        sid=f"{reader.name.capitalize()}RolloutsReadPackages",
                        principals=[iam.AccountPrincipal(reader.account)],
                        actions=["sagemaker:DescribeModelPackage"],
                        resources=[packages],
                        conditions={
                            "ArnEquals": {"aws:PrincipalArn": list(reader.package_readers)}
                        },
                    )
                    for reader in readers
                ]
            )
        self.group = sagemaker.CfnModelPackageGroup(
            self,
            "ModelPackageGroup",
            model_package_group_name=group_name,
            model_package_group_description="Guardrails: candidate and approved models",
            model_package_group_policy=policy,
        )
        self.group.apply_removal_policy(
            cdk.RemovalPolicy.RETAIN if retain else cdk.RemovalPolicy.DESTROY
        )
        self.group_name = group_name
        self.group_arn = self.group.attr_model_package_group_arn
