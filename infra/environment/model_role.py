"""The execution role SageMaker models of one environment run with."""

from __future__ import annotations

import aws_cdk as cdk
import aws_cdk.aws_iam as iam
import aws_cdk.aws_kms as kms
import aws_cdk.aws_s3 as s3
from constructs import Construct

from infra.nag import acknowledge_wildcards

DATA_CAPTURE_PREFIX = "data-capture"


class ModelExecutionRole(Construct):
    """Least privilege for serving: model artifacts, images, logs and data capture.

    It lives beside the bucket and key because the endpoint stack and every model the rollout
    creates run with it.
    """

    def __init__(
        self, scope: Construct, id_: str, *, endpoint_name: str, bucket: s3.IBucket, key: kms.IKey
    ) -> None:
        super().__init__(scope, id_)
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"),
            description=f"SageMaker models behind endpoint {endpoint_name}",
        )
        stack = cdk.Stack.of(self)
        artifacts = bucket.arn_for_objects("*")
        capture = bucket.arn_for_objects(f"{DATA_CAPTURE_PREFIX}/{endpoint_name}/*")
        log_groups = stack.format_arn(
            service="logs",
            resource="log-group",
            resource_name=f"/aws/sagemaker/Endpoints/{endpoint_name}:*",
            arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
        )
        images = f"arn:{cdk.Aws.PARTITION}:ecr:{cdk.Aws.REGION}:*:repository/*"
        self.role.add_to_policy(
            iam.PolicyStatement(actions=["s3:GetObject"], resources=[artifacts])
        )
        self.role.add_to_policy(iam.PolicyStatement(actions=["s3:PutObject"], resources=[capture]))
        self.role.add_to_policy(
            iam.PolicyStatement(
                actions=["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"],
                resources=[key.key_arn],
            )
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                actions=["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[log_groups],
            )
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                actions=["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"], resources=[images]
            )
        )
        self.role.add_to_policy(
            iam.PolicyStatement(actions=["ecr:GetAuthorizationToken"], resources=["*"])
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                actions=["cloudwatch:PutMetricData"],
                resources=["*"],
                conditions={"StringEquals": {"cloudwatch:namespace": "/aws/sagemaker/Endpoints"}},
            )
        )
        acknowledge_wildcards(
            self.role,
            "Models read any artifact the pipeline wrote to the artifact bucket (their S3 keys "
            "are chosen per training job) and write data capture under the endpoint's prefix.",
            resources=[artifacts, capture],
        )
        acknowledge_wildcards(
            self.role,
            "SageMaker creates one log stream per instance under the endpoint's own log group.",
            resources=[log_groups],
        )
        acknowledge_wildcards(
            self.role,
            "Built-in algorithm images live in AWS-owned ECR accounts that differ per region; "
            "only image pulls are allowed.",
            resources=[images],
        )
        acknowledge_wildcards(
            self.role,
            "ecr:GetAuthorizationToken has no resource scope, and cloudwatch:PutMetricData is "
            "limited by a namespace condition to the endpoint's own metrics.",
            resources=["*"],
        )
