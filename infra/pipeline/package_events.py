"""Model package state changes of the pipeline's group, to the function that acts on them."""

from __future__ import annotations

from collections.abc import Sequence

import aws_cdk as cdk
import aws_cdk.aws_events as events
import aws_cdk.aws_events_targets as targets
import aws_cdk.aws_iam as iam
from constructs import Construct

from guardrails.release import rules, settings
from infra.dead_letters import DeadLetterQueue
from infra.environment.identities import sagemaker_arn
from infra.lambda_function import GuardrailsFunction
from infra.nag import acknowledge_wildcards
from infra.pipeline.host import PipelineHost
from infra.pipeline.model_pipeline import DeployEnvironment


class PackageStateEvents(Construct):
    """Approvals outside the approval step are refused; a rejected serving package is rolled back.

    The function reads the pipeline's packages here and reaches each deploy environment (maybe
    another account) only through the environment's release access role, which trusts its role
    by name: it sees what the endpoint serves and starts the rollback there, as that role.
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        role_name: str,
        deploy_environments: Sequence[DeployEnvironment],
        host: PipelineHost,
    ) -> None:
        super().__init__(scope, id_)
        group_name = host.model_package_group_name
        deploy_targets_json = cdk.Stack.of(self).to_json_string(
            [
                {
                    "environment": deploy_env.config.name,
                    "endpoint_name": deploy_env.config.endpoint_name,
                    "state_machine_arn": deploy_env.state_machine_arn,
                    "access_role_arn": deploy_env.access_role_arn,
                }
                for deploy_env in deploy_environments
            ]
        )
        # A lost "Rejected" event would leave a rejected model serving: nothing may be lost.
        dead_letters = DeadLetterQueue(
            self,
            "DeadLetters",
            purpose="model package approvals and rejections",
            topic=host.on_call,
        )
        handler_scope = Construct(self, "Handler")
        # Named: the deploy environments' release access roles trust it by this name.
        role = iam.Role(
            handler_scope,
            "Role",
            role_name=role_name,
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="Guardrails package-state function: refuses approvals outside the "
            "pipeline, rolls back rejected models",
        )
        handler = GuardrailsFunction(
            handler_scope,
            handler="guardrails.release.handlers.package_state",
            description="Guardrails: refuse approvals made outside the pipeline, roll back "
            "rejected models",
            environment={
                settings.GROUP_NAME: group_name,
                settings.TABLE_NAME: host.table.table_name,
                settings.TOPIC_ARN: host.on_call.topic_arn,
                settings.DEPLOY_TARGETS: deploy_targets_json,
                settings.RELEASED_BUCKET: host.released.bucket.bucket_name,
            },
            code=host.code,
            logs=host.logs,
            dead_letter_queue=dead_letters.queue,
            role=role,
        )
        self.function = handler.function
        packages = sagemaker_arn(self, "model-package", f"{group_name.lower()}/*")
        statements = [
            iam.PolicyStatement(actions=["sagemaker:DescribeModelPackage"], resources=[packages]),
            iam.PolicyStatement(actions=["sagemaker:ListModelPackages"], resources=["*"]),
        ]
        if deploy_environments:
            statements.append(
                iam.PolicyStatement(
                    actions=["sts:AssumeRole"],
                    resources=[d.access_role_arn for d in deploy_environments],
                )
            )
        for statement in statements:
            role.add_to_policy(statement)
        host.table.grant_read_write_data(role)
        host.on_call.grant_publish(role)
        host.key.grant(role, "kms:Decrypt", "kms:GenerateDataKey*")

        self.rule = events.Rule(
            self,
            "Rule",
            description=f"Approvals and rejections of packages in {group_name}",
            event_pattern=events.EventPattern(
                source=["aws.sagemaker"],
                detail_type=[rules.DETAIL_TYPE],
                detail={
                    "ModelPackageGroupName": [group_name],
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
            "Reads the pipeline group's package versions; ListModelPackages and X-Ray have no "
            "resource scope.",
            resources=[packages, "*"],
        )
        acknowledge_wildcards(
            role,
            "Publishing to the KMS-encrypted on-call topic and writing the KMS-encrypted "
            "deployment table need data keys of the environment's key.",
            actions=["kms:GenerateDataKey*", "kms:ReEncrypt*"],
        )
