"""The SageMaker model package group that holds every candidate and approved model."""

from __future__ import annotations

import aws_cdk as cdk
import aws_cdk.aws_sagemaker as sagemaker
from constructs import Construct


class ModelRegistry(Construct):
    """A model package group; its name is the environment's, since CloudFormation requires one."""

    def __init__(self, scope: Construct, id_: str, *, group_name: str, retain: bool) -> None:
        super().__init__(scope, id_)
        self.group = sagemaker.CfnModelPackageGroup(
            self,
            "ModelPackageGroup",
            model_package_group_name=group_name,
            model_package_group_description="Guardrails: candidate and approved models",
        )
        self.group.apply_removal_policy(
            cdk.RemovalPolicy.RETAIN if retain else cdk.RemovalPolicy.DESTROY
        )
        self.group_name = group_name
        self.group_arn = self.group.attr_model_package_group_arn
