"""Who runs the SageMaker Pipeline's jobs, and who may read the models they produce."""

from __future__ import annotations

from collections.abc import Sequence

import aws_cdk as cdk
import aws_cdk.aws_iam as iam
import aws_cdk.aws_kms as kms
import aws_cdk.aws_s3 as s3
from constructs import Construct

from infra.nag import (
    acknowledge_granted_wildcards,
    acknowledge_wildcards,
    acknowledge_wildcards_when_resolved,
)
from pipelines import ARTIFACT_PREFIX, RUNS_PREFIX


class ModelBuildRole(Construct):
    """The SageMaker execution role of the pipeline's processing, training and register steps."""

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        bucket: s3.IBucket,
        key: kms.IKey,
        model_package_group_name: str,
    ) -> None:
        super().__init__(scope, id_)
        stack = cdk.Stack.of(self)
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"),
            description="SageMaker Pipeline steps: preprocess, train, evaluate, register",
        )

        def sagemaker(resource: str, name: str) -> str:
            return stack.format_arn(service="sagemaker", resource=resource, resource_name=name)

        jobs = [sagemaker("processing-job", "*"), sagemaker("training-job", "*")]
        group = model_package_group_name.lower()
        packages = [
            sagemaker("model-package", f"{group}/*"),
            sagemaker("model-package-group", group),
        ]
        log_groups = [
            stack.format_arn(
                service="logs",
                resource="log-group",
                resource_name=f"/aws/sagemaker/{kind}:*",
                arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
            )
            for kind in ("ProcessingJobs", "TrainingJobs")
        ]
        images = f"arn:{cdk.Aws.PARTITION}:ecr:{cdk.Aws.REGION}:*:repository/*"
        statements = [
            iam.PolicyStatement(
                actions=[
                    "sagemaker:CreateProcessingJob", "sagemaker:DescribeProcessingJob",
                    "sagemaker:StopProcessingJob", "sagemaker:CreateTrainingJob",
                    "sagemaker:DescribeTrainingJob", "sagemaker:StopTrainingJob",
                    "sagemaker:AddTags",
                ],
                resources=jobs,
            ),
            iam.PolicyStatement(
                actions=["sagemaker:CreateModelPackage", "sagemaker:DescribeModelPackage",
                         "sagemaker:AddTags"],
                resources=packages,
            ),
            # The pipeline hands this same role to every job it starts.
            iam.PolicyStatement(
                actions=["iam:PassRole"],
                resources=[self.role.role_arn],
                conditions={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
            ),
            iam.PolicyStatement(
                actions=["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents",
                         "logs:DescribeLogStreams"],
                resources=log_groups,
            ),
            iam.PolicyStatement(
                actions=["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer",
                         "ecr:BatchCheckLayerAvailability"],
                resources=[images],
            ),
            iam.PolicyStatement(actions=["ecr:GetAuthorizationToken"], resources=["*"]),
            iam.PolicyStatement(
                actions=["cloudwatch:PutMetricData"],
                resources=["*"],
                conditions={"StringLike": {"cloudwatch:namespace": "/aws/sagemaker/*"}},
            ),
        ]  # fmt: skip
        for statement in statements:
            self.role.add_to_policy(statement)
        bucket.grant_read_write(self.role, f"{ARTIFACT_PREFIX}/*")
        key.grant_encrypt_decrypt(self.role)

        acknowledge_wildcards(
            self.role,
            "Processing and training job names are generated per pipeline execution, and the "
            "model packages are versions of the pipeline's own group.",
            resources=[*jobs, packages[0]],
        )
        acknowledge_wildcards(
            self.role,
            "SageMaker creates one log stream per job under its service log groups.",
            resources=log_groups,
        )
        acknowledge_wildcards(
            self.role,
            "Built-in algorithm and framework images live in AWS-owned ECR accounts that differ "
            "per region; only image pulls are allowed.",
            resources=[images],
        )
        acknowledge_wildcards(
            self.role,
            "ecr:GetAuthorizationToken has no resource scope, and cloudwatch:PutMetricData is "
            "limited by a namespace condition to SageMaker's job metrics.",
            resources=["*"],
        )
        acknowledge_granted_wildcards(
            self.role,
            "Jobs read and write their own run folders under the pipeline's prefix of the "
            "artifact bucket, and use its key for SSE-KMS; CDK's read/write grants name these "
            "action groups.",
            actions=["s3:GetObject*", "s3:GetBucket*", "s3:List*", "s3:DeleteObject*",
                     "s3:Abort*", "kms:GenerateDataKey*", "kms:ReEncrypt*"],
        )  # fmt: skip


class DeployedModelAccess(Construct):
    """Lets each deploy environment's model role read the models the pipeline trained."""

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        bucket: s3.IBucket,
        key: kms.IKey,
        model_roles: Sequence[iam.IRole],
    ) -> None:
        super().__init__(scope, id_)
        models = bucket.arn_for_objects(f"{RUNS_PREFIX}/*")
        # A policy of this stack attached to roles of the stateful stacks: the stateful stacks
        # stay unaware of the pipeline.
        self.policy = iam.Policy(
            self,
            "Policy",
            roles=list(model_roles),
            statements=[
                iam.PolicyStatement(actions=["s3:GetObject"], resources=[models]),
                iam.PolicyStatement(actions=["kms:Decrypt"], resources=[key.key_arn]),
            ],
        )
        acknowledge_wildcards_when_resolved(
            self.policy,
            "SageMaker endpoints load model.tar.gz from the training run that produced the "
            "package; run folders are named by pipeline execution.",
            resources=[models],
        )
