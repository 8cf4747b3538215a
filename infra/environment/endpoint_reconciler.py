"""The endpoint stack's custom resource: reconciles the endpoint with what serves on each deploy.

CloudFormation owns no model, endpoint config or endpoint: on every Create, Update and Delete
of this resource, CDK's Provider framework calls `guardrails.endpoint.handler.on_event` with the
serving model (resolved by CloudFormation from the SSM parameter) and the configured endpoint
shape; the handler leaves the endpoint alone, starts the environment's rollout state machine
for a shape change, or deletes the endpoint with a non-production stack
(`guardrails.endpoint.reconcile`). The rollout stack is deployed after this one, so the state
machine is named, not referenced: its ARN comes from its deterministic name.
"""

from __future__ import annotations

import dataclasses
import json

import aws_cdk as cdk
import aws_cdk.aws_dynamodb as dynamodb
import aws_cdk.aws_iam as iam
import aws_cdk.aws_sns as sns
import aws_cdk.custom_resources as custom_resources
from constructs import Construct

from guardrails.endpoint import settings as reconciler
from guardrails.namespace import NAMESPACE
from guardrails.rollout import settings as rollout_settings
from infra import lambda_code
from infra.config import EndpointSettings
from infra.dependencies import depend_only_on_policy
from infra.encrypted_logs import EncryptedLogs
from infra.environment.identities import sagemaker_arn
from infra.lambda_function import GuardrailsFunction
from infra.nag import acknowledge, acknowledge_wildcards

_SCALING_CONDITIONS = {
    "StringEquals": {
        "application-autoscaling:service-namespace": "sagemaker",
        "application-autoscaling:scalable-dimension": "sagemaker:variant:DesiredInstanceCount",
    }
}


class EndpointReconciler(Construct):
    """`Custom::GuardedEndpoint`: its handler may read the endpoint, start the rollout, and
    (outside production) delete the endpoint; nothing else."""

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        environment: str,
        endpoint_name: str,
        production: bool,
        shape: EndpointSettings,
        serving_model: str,
        state_machine_name: str,
        table: dynamodb.ITableV2,
        topic: sns.ITopic,
    ) -> None:
        super().__init__(scope, id_)
        stack = cdk.Stack.of(self)
        endpoint_arn = sagemaker_arn(self, "endpoint", endpoint_name.lower())
        any_config = sagemaker_arn(self, "endpoint-config", "*")
        state_machine_arn = stack.format_arn(
            service="states",
            resource="stateMachine",
            resource_name=state_machine_name,
            arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
        )
        logs = EncryptedLogs(
            self,
            "Logs",
            description=f"Guardrails endpoint reconciler logs of {endpoint_name}",
            retain=production,
        )
        function = GuardrailsFunction(
            self,
            id_prefix="Handler",
            handler="guardrails.endpoint.handler.on_event",
            description=f"Guardrails: reconciles {endpoint_name} with its serving model",
            environment={
                rollout_settings.ENVIRONMENT: environment,
                rollout_settings.TABLE_NAME: table.table_name,
                rollout_settings.TOPIC_ARN: topic.topic_arn,
                reconciler.STATE_MACHINE_ARN: state_machine_arn,
                "POWERTOOLS_SERVICE_NAME": f"endpoint-{environment}",
                "POWERTOOLS_METRICS_NAMESPACE": NAMESPACE,
            },
            code=lambda_code.runtime_code(),
            logs=logs,
            timeout=cdk.Duration.seconds(60),
        )
        role = function.role
        table.grant_read_write_data(role)
        topic.grant_publish(role)
        statements = [
            iam.PolicyStatement(actions=["sagemaker:DescribeEndpoint"], resources=[endpoint_arn]),
            iam.PolicyStatement(
                actions=["sagemaker:DescribeEndpointConfig"], resources=[any_config]
            ),
            iam.PolicyStatement(
                actions=[
                    "application-autoscaling:DescribeScalableTargets",
                    "application-autoscaling:DescribeScalingPolicies",
                ],
                resources=["*"],
            ),
            iam.PolicyStatement(actions=["states:StartExecution"], resources=[state_machine_arn]),
        ]
        if not production:  # a deleted non-production stack takes its endpoint along
            statements += [
                iam.PolicyStatement(actions=["sagemaker:DeleteEndpoint"], resources=[endpoint_arn]),
                iam.PolicyStatement(
                    actions=["application-autoscaling:DeregisterScalableTarget"],
                    resources=["*"],
                    conditions=_SCALING_CONDITIONS,
                ),
            ]
        for statement in statements:
            role.add_to_principal_policy(statement)
        acknowledge_wildcards(
            role,
            "The live endpoint config's name is generated per rollout (it is only described); "
            "Application Auto Scaling has no resource scope for scalable targets by name, so "
            "its calls are held to SageMaker variants by conditions where it allows them; "
            "X-Ray has no resource scope.",
            resources=[any_config, "*"],
        )
        acknowledge_wildcards(
            role,
            "DynamoDB and SNS encrypt with the environment's KMS key: CDK's grants name its "
            "data key actions with a wildcard, on that one key.",
            actions=["kms:GenerateDataKey*", "kms:ReEncrypt*"],
        )

        framework_role = iam.Role(
            self,
            "ProviderRole",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"CDK's custom resource framework for {endpoint_name}'s reconciler",
        )
        provider_logs = logs.log_group(self, "ProviderLogs")
        provider_logs.grant_write(framework_role)
        provider = custom_resources.Provider(
            self,
            "Provider",
            on_event_handler=function.function,
            framework_on_event_role=framework_role,
            log_group=provider_logs,
        )
        depend_only_on_policy(provider.node.find_child("framework-onEvent"), framework_role)
        acknowledge_wildcards(
            framework_role,
            "CDK's framework function invokes any version of the reconciler "
            "(<function ARN>:*), which is only this construct's own function.",
            resources=[f"{function.function.function_arn}:*"],
        )
        acknowledge(
            provider,
            "AwsSolutions-L1",
            "CDK's custom resource framework function runs the Node.js runtime CDK pins for it; "
            "it only relays CloudFormation's request to the Python reconciler.",
        )
        self.resource = cdk.CustomResource(
            self,
            "Resource",
            service_token=provider.service_token,
            resource_type="Custom::GuardedEndpoint",
            properties={
                reconciler.ENDPOINT_NAME_PROPERTY: endpoint_name,
                reconciler.PRODUCTION_PROPERTY: "true" if production else "false",
                reconciler.SERVING_MODEL_PROPERTY: serving_model,
                reconciler.ENDPOINT_SETTINGS_PROPERTY: json.dumps(
                    dataclasses.asdict(shape), sort_keys=True
                ),
            },
        )
