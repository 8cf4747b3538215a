"""The pipeline's CodeBuild projects: Test (buildspec.yml) and Train (buildspec-train.yml)."""

from __future__ import annotations

import aws_cdk as cdk
import aws_cdk.aws_codebuild as codebuild
import aws_cdk.aws_iam as iam
from constructs import Construct

from infra.config import PipelineSettings
from infra.environment.identities import sagemaker_arn
from infra.nag import acknowledge_granted_wildcards, acknowledge_wildcards
from infra.pipeline.host import PipelineHost
from pipelines import ARTIFACT_PREFIX, INPUTS_PREFIX

TEST_BUILDSPEC = "buildspec.yml"
TRAIN_BUILDSPEC = "pipelines/buildspec-train.yml"
BUILD_IMAGE = codebuild.LinuxBuildImage.STANDARD_7_0


class PipelineBuilds(Construct):
    """Unprivileged, KMS-encrypted builds with retained logs; Train runs the SageMaker Pipeline."""

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        settings: PipelineSettings,
        sagemaker_pipeline_name: str,
        sagemaker_role: iam.IRole,
        host: PipelineHost,
    ) -> None:
        super().__init__(scope, id_)
        self._host = host
        self.test_project = self._project(
            "Test",
            buildspec=TEST_BUILDSPEC,
            description="Guardrails model pipeline: lint, type checks and unit tests",
            timeout=cdk.Duration.minutes(30),
            variables={},
        )
        # Every account-specific value the Train buildspec uses; test_buildspecs.py checks it
        # references no other.
        variables = {
            "SAGEMAKER_PIPELINE_NAME": sagemaker_pipeline_name,
            "SAGEMAKER_ROLE_ARN": sagemaker_role.role_arn,
            "ARTIFACT_BUCKET": host.bucket.bucket_name,
            "KMS_KEY_ARN": host.key.key_arn,
            "MODEL_PACKAGE_GROUP": host.model_package_group_name,
            "MIN_AUC": str(settings.min_auc),
            "MIN_ACCURACY": str(settings.min_accuracy),
            "MAX_AUC_DROP": str(settings.max_auc_drop),
            "PROCESSING_INSTANCE_TYPE": settings.processing_instance_type,
            "TRAINING_INSTANCE_TYPE": settings.training_instance_type,
        }
        self.train_project = self._project(
            "Train",
            buildspec=TRAIN_BUILDSPEC,
            description="Guardrails model pipeline: run the SageMaker Pipeline and register",
            timeout=cdk.Duration.hours(4),
            variables=variables,
        )
        self._allow_training(sagemaker_pipeline_name, sagemaker_role)

    def _project(
        self,
        id_: str,
        *,
        buildspec: str,
        description: str,
        timeout: cdk.Duration,
        variables: dict[str, str],
    ) -> codebuild.PipelineProject:
        project = codebuild.PipelineProject(
            self,
            f"{id_}Project",
            description=description,
            build_spec=codebuild.BuildSpec.from_source_filename(buildspec),
            environment=codebuild.BuildEnvironment(
                build_image=BUILD_IMAGE,
                compute_type=codebuild.ComputeType.SMALL,
                privileged=False,
            ),
            environment_variables={
                name: codebuild.BuildEnvironmentVariable(value=value)
                for name, value in variables.items()
            },
            encryption_key=self._host.key,
            timeout=timeout,
            logging=codebuild.LoggingOptions(
                cloud_watch=codebuild.CloudWatchLoggingOptions(
                    log_group=self._host.logs.log_group(self, f"{id_}Logs")
                )
            ),
        )
        assert project.role is not None  # PipelineProject always creates one
        acknowledge_granted_wildcards(
            project.role,
            "CodeBuild's defaults: log streams under the project's own log group, test report "
            "groups named after the project, and read access to the pipeline's artifacts, "
            "encrypted with the environment's key.",
            actions=["logs:CreateLogStream", "codebuild:CreateReportGroup", "s3:GetObject*",
                     "s3:GetBucket*", "s3:List*", "kms:GenerateDataKey*", "kms:ReEncrypt*"],
        )  # fmt: skip
        return project

    def _allow_training(self, pipeline_name: str, sagemaker_role: iam.IRole) -> None:
        host = self._host
        role = self.train_project.role
        assert role is not None
        # SageMaker lower-cases names in ARNs.
        pipeline = sagemaker_arn(self, "pipeline", pipeline_name.lower())
        executions = sagemaker_arn(self, "pipeline", f"{pipeline_name.lower()}/execution/*")
        packages = sagemaker_arn(
            self, "model-package", f"{host.model_package_group_name.lower()}/*"
        )
        statements = [
            iam.PolicyStatement(
                actions=["sagemaker:DescribePipeline", "sagemaker:CreatePipeline",
                         "sagemaker:UpdatePipeline", "sagemaker:StartPipelineExecution"],
                resources=[pipeline],
            ),
            iam.PolicyStatement(
                actions=["sagemaker:DescribePipelineExecution",
                         "sagemaker:ListPipelineExecutionSteps",
                         "sagemaker:StopPipelineExecution"],
                resources=[executions],
            ),
            iam.PolicyStatement(actions=["sagemaker:DescribeModelPackage"], resources=[packages]),
            iam.PolicyStatement(actions=["sagemaker:ListModelPackages"], resources=["*"]),
            iam.PolicyStatement(
                actions=["iam:PassRole"],
                resources=[sagemaker_role.role_arn],
                conditions={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
            ),
        ]  # fmt: skip
        for statement in statements:
            role.add_to_principal_policy(statement)
        host.bucket.grant_put(role, f"{INPUTS_PREFIX}/*")
        host.bucket.grant_read(role, f"{ARTIFACT_PREFIX}/*")
        host.key.grant_encrypt_decrypt(role)

        acknowledge_wildcards(
            role,
            "The build follows the executions it starts of its own SageMaker Pipeline and reads "
            "the versions of its own model package group; ListModelPackages has no resource "
            "scope.",
            resources=[executions, packages, "*"],
        )
        acknowledge_granted_wildcards(
            role,
            "The build uploads step scripts under the pipeline's inputs prefix, reads evaluation "
            "reports under its prefix, and exchanges pipeline artifacts in the artifact bucket; "
            "CDK's S3 and KMS grants name these action groups.",
            actions=["s3:GetObject*", "s3:GetBucket*", "s3:List*", "s3:Abort*",
                     "s3:DeleteObject*", "kms:GenerateDataKey*", "kms:ReEncrypt*"],
        )  # fmt: skip
