"""Model package state changes of the pipeline's group, to the function that acts on them."""

from __future__ import annotations

from collections.abc import Sequence

import aws_cdk as cdk
import aws_cdk.aws_dynamodb as dynamodb
import aws_cdk.aws_events as events
import aws_cdk.aws_events_targets as targets
import aws_cdk.aws_iam as iam
import aws_cdk.aws_kms as kms
import aws_cdk.aws_lambda as lambda_
import aws_cdk.aws_s3 as s3
import aws_cdk.aws_sns as sns
from constructs import Construct

from guardrails.release import rules, settings
from guardrails.release.events import DETAIL_TYPE
from infra.dead_letters import DeadLetterQueue
from infra.encrypted_logs import EncryptedLogs
from infra.lambda_function import GuardrailsFunction
from infra.nag import acknowledge_wildcards
from infra.pipeline.model_pipeline import DeployEnvironment


class PackageStateEvents(Construct):
    """Approvals outside the approval step are refused; a rejected serving package is rolled back.
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        model_package_group_name: str,
        deploy_environments: Sequence[DeployEnvironment],
        released_bucket: s3.IBucket,
        table: dynamodb.ITableV2,
        on_call: sns.ITopic,
        key: kms.IKey,
        code: lambda_.Code,
        logs: EncryptedLogs,
    ) -> None:
        super().__init__(scope, id_)
        stack = cdk.Stack.of(self)
        deploy_targets_json = stack.to_json_string(
            [
                {
                    "environment": deploy_env.config.name,
                    "endpoint_name": deploy_env.config.endpoint_name,
                    "state_machine_arn": deploy_env.state_machine.state_machine_arn,
                }
                for deploy_env in deploy_environments
            ]
        )
        # A lost "Rejected" event would leave a rejected model serving: nothing may be lost.
        dead_letters = DeadLetterQueue(
            self, "DeadLetters", purpose="model package approvals and rejections", topic=on_call
        )
        handler = GuardrailsFunction(
            Construct(self, "Handler"),
            handler="guardrails.release.handlers.package_state",
            description="Guardrails: refuse approvals made outside the pipeline, roll back "
            "rejected models",
            environment={
                settings.GROUP_NAME: model_package_group_name,
                settings.TABLE_NAME: table.table_name,
                settings.TOPIC_ARN: on_call.topic_arn,
                settings.DEPLOY_TARGETS: deploy_targets_json,
                settings.RELEASED_BUCKET: released_bucket.bucket_name,
            },
            code=code,
            logs=logs,
            dead_letter_queue=dead_letters.queue,
        )
        self.function, role = handler.function, handler.role

        def sagemaker(resource: str, name: str) -> str:
            return stack.format_arn(service="sagemaker", resource=resource, resource_name=name)

        packages = sagemaker("model-package", f"{model_package_group_name.lower()}/*")
        endpoints = [
            sagemaker("endpoint", d.config.endpoint_name.lower()) for d in deploy_environments
        ]
        configs, models = sagemaker("endpoint-config", "*"), sagemaker("model", "*")
        statements = [
            iam.PolicyStatement(actions=["sagemaker:DescribeModelPackage"], resources=[packages]),
            iam.PolicyStatement(actions=["sagemaker:ListModelPackages"], resources=["*"]),
            iam.PolicyStatement(actions=["sagemaker:DescribeEndpointConfig"], resources=[configs]),
            # A model built from a released artifact names its package in a tag.
            iam.PolicyStatement(
                actions=["sagemaker:DescribeModel", "sagemaker:ListTags"], resources=[models]
            ),
        ]
        if endpoints:
            statements.append(
                iam.PolicyStatement(actions=["sagemaker:DescribeEndpoint"], resources=endpoints)
            )
        for statement in statements:
            role.add_to_policy(statement)
        table.grant_read_write_data(role)
        on_call.grant_publish(role)
        key.grant(role, "kms:Decrypt", "kms:GenerateDataKey*")
        for deploy_env in deploy_environments:
            deploy_env.state_machine.grant_start_execution(role)

        self.rule = events.Rule(
            self,
            "Rule",
            description=f"Approvals and rejections of packages in {model_package_group_name}",
            event_pattern=events.EventPattern(
                source=["aws.sagemaker"],
                detail_type=[DETAIL_TYPE],
                detail={
                    "ModelPackageGroupName": [model_package_group_name],
                    "ModelApprovalStatus": [rules.APPROVED, rules.REJECTED],
                },
            ),
            targets=[
                targets.LambdaFunction(
                    self.function, retry_attempts=4, dead_letter_queue=dead_letters.queue
                )
            ],
        )

        acknowledge_wildcards(
            role,
            "Reads the pipeline group's package versions and the models and configs behind "
            "the deploy environments' endpoints, whose names the rollouts generate; "
            "ListModelPackages and X-Ray have no resource scope.",
            resources=[packages, configs, models, "*"],
        )
        acknowledge_wildcards(
            role,
            "Publishing to the KMS-encrypted on-call topic and writing the KMS-encrypted "
            "deployment table need data keys of the environment's key.",
            actions=["kms:GenerateDataKey*", "kms:ReEncrypt*"],
        )
