"""Target-tracking autoscaling on the endpoint's production variant."""

from __future__ import annotations

import aws_cdk as cdk
import aws_cdk.aws_applicationautoscaling as appscaling
import aws_cdk.aws_iam as iam
from constructs import Construct

from infra.config import EndpointSettings


class VariantAutoscaling(Construct):
    """Scales the variant on invocations per instance; the variant name outlives updates."""

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        endpoint_name: str,
        settings: EndpointSettings,
    ) -> None:
        super().__init__(scope, id_)
        # SageMaker's service-linked role: no extra IAM role for CDK to create and maintain.
        service_linked_role = iam.Role.from_role_arn(
            self,
            "ServiceLinkedRole",
            cdk.Stack.of(self).format_arn(
                service="iam",
                region="",
                resource="role",
                resource_name="aws-service-role/sagemaker.application-autoscaling.amazonaws.com/"
                "AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint",
            ),
        )
        self.target = appscaling.ScalableTarget(
            self,
            "Target",
            service_namespace=appscaling.ServiceNamespace.SAGEMAKER,
            resource_id=f"endpoint/{endpoint_name}/variant/{settings.variant_name}",
            scalable_dimension="sagemaker:variant:DesiredInstanceCount",
            min_capacity=settings.min_capacity,
            max_capacity=settings.max_capacity,
            role=service_linked_role,
        )
        self.target.scale_to_track_metric(
            "InvocationsPerInstance",
            target_value=settings.target_invocations_per_instance,
            predefined_metric=appscaling.PredefinedMetric.SAGEMAKER_VARIANT_INVOCATIONS_PER_INSTANCE,
            scale_in_cooldown=cdk.Duration.minutes(5),
            scale_out_cooldown=cdk.Duration.minutes(1),
        )
