"""The SageMaker model, endpoint config and endpoint, updated through a native guardrail."""

from __future__ import annotations

from collections.abc import Sequence

import aws_cdk.aws_cloudwatch as cloudwatch
import aws_cdk.aws_iam as iam
import aws_cdk.aws_kms as kms
import aws_cdk.aws_s3 as s3
import aws_cdk.aws_sagemaker as sagemaker
from constructs import Construct

from guardrails.rollout.deployment_config import build_deployment_config
from infra.config import DeploymentSettings, EndpointSettings
from infra.environment.model_role import DATA_CAPTURE_PREFIX


class GuardedEndpoint(Construct):
    """An endpoint serving one model package, rolled back by SageMaker when an alarm fires."""

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        endpoint_name: str,
        model_package_arn: str,
        settings: EndpointSettings,
        guardrail: DeploymentSettings,
        rollback_alarms: Sequence[cloudwatch.IAlarm],
        role: iam.IRole,
        bucket: s3.IBucket,
        key: kms.IKey,
    ) -> None:
        super().__init__(scope, id_)
        # SageMaker checks the rollback alarms with the model's execution role.
        alarm_access = iam.Policy(
            self,
            "AlarmAccess",
            roles=[role],
            statements=[
                iam.PolicyStatement(
                    actions=["cloudwatch:DescribeAlarms"],
                    resources=[alarm.alarm_arn for alarm in rollback_alarms],
                )
            ],
        )

        self.model = sagemaker.CfnModel(
            self,
            "Model",
            execution_role_arn=role.role_arn,
            containers=[
                sagemaker.CfnModel.ContainerDefinitionProperty(model_package_name=model_package_arn)
            ],
            enable_network_isolation=True,
        )

        capture = None
        if settings.data_capture_percent > 0:
            capture = sagemaker.CfnEndpointConfig.DataCaptureConfigProperty(
                enable_capture=True,
                initial_sampling_percentage=settings.data_capture_percent,
                destination_s3_uri=bucket.s3_url_for_object(
                    f"{DATA_CAPTURE_PREFIX}/{endpoint_name}"
                ),
                kms_key_id=key.key_arn,
                capture_options=[
                    sagemaker.CfnEndpointConfig.CaptureOptionProperty(capture_mode="Input"),
                    sagemaker.CfnEndpointConfig.CaptureOptionProperty(capture_mode="Output"),
                ],
            )
        # No explicit name: every functional EndpointConfig property is create-only, so a
        # change must produce a new config, which the endpoint then moves to with a guardrail.
        self.endpoint_config = sagemaker.CfnEndpointConfig(
            self,
            "EndpointConfig",
            production_variants=[
                sagemaker.CfnEndpointConfig.ProductionVariantProperty(
                    variant_name=settings.variant_name,
                    model_name=self.model.attr_model_name,
                    initial_instance_count=settings.instance_count,
                    instance_type=settings.instance_type,
                    initial_variant_weight=1.0,
                )
            ],
            kms_key_id=key.key_arn,
            data_capture_config=capture,
        )

        self.endpoint = sagemaker.CfnEndpoint(
            self,
            "Endpoint",
            endpoint_name=endpoint_name,
            endpoint_config_name=self.endpoint_config.attr_endpoint_config_name,
        )
        self.endpoint.node.add_dependency(alarm_access)
        alarm_names = [alarm.alarm_name for alarm in rollback_alarms]
        self.endpoint.add_property_override(
            "DeploymentConfig", build_deployment_config(guardrail, alarm_names)
        )
        self.endpoint_name = endpoint_name
        self.variant_name = settings.variant_name
