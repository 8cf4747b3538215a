"""Who runs the SageMaker Pipeline's jobs: processing, training and registration."""

from __future__ import annotations

import aws_cdk as cdk
import aws_cdk.aws_iam as iam
import aws_cdk.aws_kms as kms
import aws_cdk.aws_s3 as s3
from constructs import Construct

from guardrails.release.rules import PENDING
from infra.environment.image_registries import (
    SCIKIT_LEARN_REPOSITORY,
    XGBOOST_REPOSITORY,
    built_in_algorithm_repositories,
)
from infra.nag import acknowledge_granted_wildcards, acknowledge_wildcards
from pipelines import ARTIFACT_PREFIX


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
        images = built_in_algorithm_repositories(
            self, [XGBOOST_REPOSITORY, SCIKIT_LEARN_REPOSITORY]
        )
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
            # The Register step files a candidate, never an approved model: the approval step
            # is the only way to Approved (code from the repository runs under this role).
            iam.PolicyStatement(
                actions=["sagemaker:CreateModelPackage"],
                resources=packages,
                conditions={
                    "StringEquals": {"sagemaker:ModelApprovalStatus": PENDING}
                },
            ),
            iam.PolicyStatement(
                actions=["sagemaker:DescribeModelPackage", "sagemaker:AddTags"],
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
                resources=images,
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
            "ecr:GetAuthorizationToken has no resource scope, and cloudwatch:PutMetricData is "
            "limited by a namespace condition to SageMaker's job metrics.",
            resources=["*"],
        )
        acknowledge_granted_wildcards(
            self.role,
            "Jobs read and write run folders under the pipeline's prefix of the artifact bucket "
            "(IAM cannot hold a job to its own execution's folder; what serves is the approval "
            "step's released copy, which no job can write), and use its key for SSE-KMS; CDK's "
            "read/write grants name these action groups.",
            actions=["s3:GetObject*", "s3:GetBucket*", "s3:List*", "s3:DeleteObject*",
                     "s3:Abort*", "kms:GenerateDataKey*", "kms:ReEncrypt*"],
        )  # fmt: skip
