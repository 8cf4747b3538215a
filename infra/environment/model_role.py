"""The execution role SageMaker models of one environment run with."""

from __future__ import annotations

import aws_cdk as cdk
import aws_cdk.aws_iam as iam
import aws_cdk.aws_kms as kms
import aws_cdk.aws_s3 as s3
from constructs import Construct

from infra.environment.image_registries import XGBOOST_REPOSITORY, built_in_algorithm_repositories
from infra.environment.released_artifacts import ReleasedModels
from infra.nag import acknowledge_wildcards, acknowledge_wildcards_when_resolved

DATA_CAPTURE_PREFIX = "data-capture"


class ModelExecutionRole(Construct):
    """Least privilege for serving: released models, two image repositories, logs, data capture.

    It lives beside the bucket and key because every model the rollout creates runs with it.
    It reads models only from the released artifacts, and pulls only SageMaker's built-in
    XGBoost image of its region: a package naming any other image, or a model anywhere else,
    fails to load rather than serve. Its name is derived (`role_name`): the pipeline host's
    released bucket and key name it when the host is in another account.
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        endpoint_name: str,
        role_name: str,
        bucket: s3.IBucket,
        key: kms.IKey,
        released: ReleasedModels,
    ) -> None:
        super().__init__(scope, id_)
        self.role = iam.Role(
            self,
            "Role",
            role_name=role_name,
            assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"),
            description=f"SageMaker models behind endpoint {endpoint_name}",
        )
        stack = cdk.Stack.of(self)
        capture = bucket.arn_for_objects(f"{DATA_CAPTURE_PREFIX}/{endpoint_name}/*")
        log_groups = stack.format_arn(
            service="logs",
            resource="log-group",
            resource_name=f"/aws/sagemaker/Endpoints/{endpoint_name}:*",
            arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
        )
        (image,) = built_in_algorithm_repositories(self, [XGBOOST_REPOSITORY])
        released.grant_read_models(self.role)
        statements = [
            iam.PolicyStatement(actions=["s3:PutObject"], resources=[capture]),
            iam.PolicyStatement(
                actions=["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"],
                resources=[key.key_arn],
            ),
            iam.PolicyStatement(
                actions=["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[log_groups],
            ),
            iam.PolicyStatement(
                actions=["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"], resources=[image]
            ),
            iam.PolicyStatement(actions=["ecr:GetAuthorizationToken"], resources=["*"]),
            iam.PolicyStatement(
                actions=["cloudwatch:PutMetricData"],
                resources=["*"],
                conditions={"StringEquals": {"cloudwatch:namespace": "/aws/sagemaker/Endpoints"}},
            ),
        ]
        for statement in statements:
            self.role.add_to_policy(statement)
        acknowledge_wildcards_when_resolved(
            self.role,
            "Models load from released artifacts (one folder per approved package version); "
            "they write data capture under the endpoint's prefix.",
            resources=[released.models(), capture],
        )
        acknowledge_wildcards(
            self.role,
            "SageMaker creates one log stream per instance under the endpoint's own log group.",
            resources=[log_groups],
        )
        acknowledge_wildcards(
            self.role,
            "ecr:GetAuthorizationToken has no resource scope, and cloudwatch:PutMetricData is "
            "limited by a namespace condition to the endpoint's own metrics.",
            resources=["*"],
        )
