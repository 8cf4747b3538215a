"""The guarded SageMaker endpoint of one environment, its rollback alarms and autoscaling."""

from __future__ import annotations

import aws_cdk as cdk
from constructs import Construct

from infra.config import EnvironmentConfig
from infra.environment.alarms import EndpointAlarms
from infra.environment.autoscaling import VariantAutoscaling
from infra.environment.endpoint import GuardedEndpoint
from stacks.stateful_stack import StatefulStack


class EndpointStack(cdk.Stack):
    """Model, endpoint config and endpoint; SageMaker rolls updates back on the alarms."""

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        config: EnvironmentConfig,
        stateful: StatefulStack,
        **kwargs,
    ) -> None:
        super().__init__(scope, id_, **kwargs)
        model_package = cdk.CfnParameter(
            self,
            "ModelPackageArn",
            type="String",
            description="Approved model package the endpoint starts with "
            "(later models arrive through the guarded rollout).",
            allowed_pattern=r"^arn:aws[a-z-]*:sagemaker:[a-z0-9-]+:\d{12}:model-package/.+$",
        )
        alarms = EndpointAlarms(
            self,
            "Alarms",
            endpoint_name=config.endpoint_name,
            variant_name=config.endpoint.variant_name,
            max_5xx_error_rate=config.endpoint.max_5xx_error_rate,
            max_model_latency_ms=config.endpoint.max_model_latency_ms,
            topic=stateful.topic,
        )
        self.alarms = alarms
        self.endpoint = GuardedEndpoint(
            self,
            "Endpoint",
            endpoint_name=config.endpoint_name,
            model_package_arn=model_package.value_as_string,
            settings=config.endpoint,
            guardrail=config.deployment,
            rollback_alarms=alarms.rollback_alarms,
            role=stateful.model_role,
            bucket=stateful.bucket,
            key=stateful.key,
        )
        scaling = VariantAutoscaling(
            self, "Autoscaling", endpoint_name=config.endpoint_name, settings=config.endpoint
        )
        scaling.node.add_dependency(self.endpoint.endpoint)

        cdk.CfnOutput(self, "EndpointName", value=config.endpoint_name)
        cdk.CfnOutput(
            self,
            "InitialEndpointConfigName",
            value=self.endpoint.endpoint_config.attr_endpoint_config_name,
        )
