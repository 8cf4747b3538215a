"""The approval stage's pieces: the approvers' topic and the function that releases and approves."""

from __future__ import annotations

from collections.abc import Sequence

import aws_cdk as cdk
import aws_cdk.aws_codepipeline as codepipeline
import aws_cdk.aws_iam as iam
import aws_cdk.aws_kms as kms
import aws_cdk.aws_lambda as lambda_
import aws_cdk.aws_s3 as s3
import aws_cdk.aws_sns as sns
import aws_cdk.aws_sns_subscriptions as subscriptions
from constructs import Construct

from guardrails.release import settings
from infra.encrypted_logs import EncryptedLogs
from infra.environment.released_artifacts import ReleasedArtifacts
from infra.lambda_function import GuardrailsFunction
from infra.nag import acknowledge_wildcards, acknowledge_wildcards_when_resolved
from pipelines import RUNS_PREFIX

# Copying a model of a few hundred MB through the function takes minutes, not seconds.
APPROVAL_TIMEOUT = cdk.Duration.minutes(10)
APPROVAL_MEMORY_MB = 512


class ApprovalStep(Construct):
    """Approvers get the numbers by e-mail; after they approve, a function releases and approves.

    The function runs as the released artifacts' writer role (made in the host's stateful stack,
    whose bucket policy names it): the only principal allowed to write released artifacts and
    to set a package Approved (sagemaker:UpdateModelPackage on the group's packages). It copies
    the package's model and test data from the pipeline's runs, then sets Approved with the
    release record in one call.
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        model_package_group_name: str,
        approver_emails: Sequence[str],
        key: kms.IKey,
        artifact_bucket: s3.IBucket,
        released: ReleasedArtifacts,
        code: lambda_.Code,
        logs: EncryptedLogs,
    ) -> None:
        super().__init__(scope, id_)
        stack = cdk.Stack.of(self)
        self.topic = sns.Topic(
            self,
            "ApproversTopic",
            display_name="Guardrails model approvals",
            master_key=key,
            enforce_ssl=True,
        )
        for email in approver_emails:
            self.topic.add_subscription(subscriptions.EmailSubscription(email))

        # Imported by ARN: every policy below then lives in this stack, not the stateful one.
        role = self._role = iam.Role.from_role_arn(
            self, "WriterRole", released.writer_role.role_arn, mutable=True
        )
        trained = artifact_bucket.s3_url_for_object(f"{RUNS_PREFIX}/")
        approver = GuardrailsFunction(
            Construct(self, "MarkApproved"),
            handler="guardrails.release.handlers.approval",
            description="Guardrails pipeline: release the package's artifacts, record the "
            "approver and mark it Approved",
            environment={
                settings.GROUP_NAME: model_package_group_name,
                settings.RELEASED_BUCKET: released.bucket.bucket_name,
                settings.TRAINED_ARTIFACTS: trained,
            },
            code=code,
            logs=logs,
            timeout=APPROVAL_TIMEOUT,
            memory_size=APPROVAL_MEMORY_MB,
            role=role,
        )
        self.function = approver.function
        packages = stack.format_arn(
            service="sagemaker",
            resource="model-package",
            resource_name=f"{model_package_group_name.lower()}/*",
        )
        runs = artifact_bucket.arn_for_objects(f"{RUNS_PREFIX}/*")
        statements = [
            iam.PolicyStatement(
                actions=["sagemaker:DescribeModelPackage", "sagemaker:UpdateModelPackage"],
                resources=[packages],
            ),
            # Job APIs take no resource scope; the job id comes from CodePipeline's invocation.
            iam.PolicyStatement(
                actions=["codepipeline:GetJobDetails", "codepipeline:PutJobSuccessResult",
                         "codepipeline:PutJobFailureResult"],
                resources=["*"],
            ),
            # The registered version of what the pipeline's runs wrote: model and test split.
            iam.PolicyStatement(actions=["s3:GetObject", "s3:GetObjectVersion"], resources=[runs]),
            iam.PolicyStatement(actions=["kms:Decrypt"], resources=[key.key_arn]),
        ]  # fmt: skip
        for statement in statements:
            role.add_to_principal_policy(statement)
        released.grant_write(role)
        acknowledge_wildcards(
            role,
            "The function reads and approves versions of the pipeline's own model package "
            "group only.",
            resources=[packages],
        )
        acknowledge_wildcards(
            role,
            "CodePipeline's job APIs (GetJobDetails, PutJob*Result) and X-Ray have no resource "
            "scope.",
            resources=["*"],
        )
        acknowledge_wildcards_when_resolved(
            role,
            "The function reads the model and test split a pipeline run wrote (run folders are "
            "named by execution), and writes each approved package version's released copies "
            "into their own folders of the released-artifacts bucket.",
            resources=[runs, released.models(), released.test_data()],
        )

    def allow_reading(self, pipeline: codepipeline.IPipeline) -> None:
        """Let the function read who approved in `pipeline`.

        A separate policy: the function's policy is a dependency of the function, which the
        pipeline references, so naming the pipeline there would make a cycle.
        """
        iam.Policy(
            self,
            "PipelineStateAccess",
            roles=[self._role],
            statements=[
                iam.PolicyStatement(
                    actions=["codepipeline:GetPipelineState"], resources=[pipeline.pipeline_arn]
                )
            ],
        )
