"""The approval stage's pieces: the approvers' topic and the function that marks Approved."""

from __future__ import annotations

from collections.abc import Sequence

import aws_cdk as cdk
import aws_cdk.aws_codepipeline as codepipeline
import aws_cdk.aws_iam as iam
import aws_cdk.aws_kms as kms
import aws_cdk.aws_lambda as lambda_
import aws_cdk.aws_sns as sns
import aws_cdk.aws_sns_subscriptions as subscriptions
from constructs import Construct

from guardrails.release.settings import GROUP_NAME
from infra.encrypted_logs import EncryptedLogs
from infra.lambda_function import GuardrailsFunction
from infra.nag import acknowledge_wildcards


class ApprovalStep(Construct):
    """Approvers get the numbers by e-mail; after they approve, a function sets Approved.

    The function is the only principal in the system allowed to set a package Approved
    (sagemaker:UpdateModelPackage on the group's packages).
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        model_package_group_name: str,
        approver_emails: Sequence[str],
        key: kms.IKey,
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

        approver = GuardrailsFunction(
            Construct(self, "MarkApproved"),
            handler="guardrails.release.handlers.approval",
            description="Guardrails pipeline: record the approver and mark the package Approved",
            environment={GROUP_NAME: model_package_group_name},
            code=code,
            logs=logs,
        )
        self.function = approver.function
        role = self._role = approver.role
        packages = stack.format_arn(
            service="sagemaker",
            resource="model-package",
            resource_name=f"{model_package_group_name.lower()}/*",
        )
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["sagemaker:DescribeModelPackage", "sagemaker:UpdateModelPackage"],
                resources=[packages],
            )
        )
        # Job APIs take no resource scope; the job id comes from CodePipeline's own invocation.
        role.add_to_policy(
            iam.PolicyStatement(
                actions=[
                    "codepipeline:GetJobDetails",
                    "codepipeline:PutJobSuccessResult",
                    "codepipeline:PutJobFailureResult",
                ],
                resources=["*"],
            )
        )
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

    def allow_reading(self, pipeline: codepipeline.IPipeline) -> None:
        """Let the function read who approved in `pipeline`.

        A separate policy: the function's default policy is a dependency of the function, which
        the pipeline references, so naming the pipeline there would make a cycle.
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
