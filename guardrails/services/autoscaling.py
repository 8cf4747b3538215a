"""The Application Auto Scaling seam: the production variant's scalable target and its policy.

The rollout registers them once an endpoint serves a verified config (CloudFormation cannot:
the endpoint does not exist when the stack is deployed), and deregisters them before an update
that changes the variant's instance type, which SageMaker refuses while they are registered.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from guardrails.rollout.settings import EndpointSettings
from guardrails.services.errors import error_code

NAMESPACE = "sagemaker"
DIMENSION = "sagemaker:variant:DesiredInstanceCount"
POLICY_NAME = "InvocationsPerInstance"
PREDEFINED_METRIC = "SageMakerVariantInvocationsPerInstance"
SCALE_IN_COOLDOWN_SECONDS = 300  # scale in slowly: a dip must last before instances go
SCALE_OUT_COOLDOWN_SECONDS = 60


def resource_id(endpoint_name: str, variant_name: str) -> str:
    return f"endpoint/{endpoint_name}/variant/{variant_name}"


@dataclass(frozen=True)
class VariantScaling:
    """What is registered for a variant: its bounds and the target-tracking set point."""

    min_capacity: int
    max_capacity: int
    target_invocations_per_instance: float | None  # None: no target-tracking policy


class AutoscalingSeam:
    """RegisterScalableTarget, PutScalingPolicy, DeregisterScalableTarget and their reads."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def scaling(self, endpoint_name: str, variant_name: str) -> VariantScaling | None:
        """The variant's registration, or None when it is not a scalable target."""
        resource = resource_id(endpoint_name, variant_name)
        targets = self._client.describe_scalable_targets(
            ServiceNamespace=NAMESPACE, ResourceIds=[resource], ScalableDimension=DIMENSION
        )["ScalableTargets"]
        if not targets:
            return None
        policies = self._client.describe_scaling_policies(
            ServiceNamespace=NAMESPACE,
            ResourceId=resource,
            ScalableDimension=DIMENSION,
            PolicyNames=[POLICY_NAME],
        )["ScalingPolicies"]
        target_value = None
        if policies:
            configuration = policies[0].get("TargetTrackingScalingPolicyConfiguration") or {}
            target_value = configuration.get("TargetValue")
        return VariantScaling(
            min_capacity=int(targets[0]["MinCapacity"]),
            max_capacity=int(targets[0]["MaxCapacity"]),
            target_invocations_per_instance=target_value,
        )

    def register(self, endpoint_name: str, variant_name: str, shape: EndpointSettings) -> None:
        """Register (or update) the target and its target-tracking policy; idempotent.

        No role is given: Application Auto Scaling uses (and creates, the first time) its
        service-linked role for SageMaker endpoints.
        """
        resource = resource_id(endpoint_name, variant_name)
        self._client.register_scalable_target(
            ServiceNamespace=NAMESPACE,
            ResourceId=resource,
            ScalableDimension=DIMENSION,
            MinCapacity=shape.min_capacity,
            MaxCapacity=shape.max_capacity,
        )
        self._client.put_scaling_policy(
            PolicyName=POLICY_NAME,
            ServiceNamespace=NAMESPACE,
            ResourceId=resource,
            ScalableDimension=DIMENSION,
            PolicyType="TargetTrackingScaling",
            TargetTrackingScalingPolicyConfiguration={
                "TargetValue": float(shape.target_invocations_per_instance),
                "PredefinedMetricSpecification": {"PredefinedMetricType": PREDEFINED_METRIC},
                "ScaleInCooldown": SCALE_IN_COOLDOWN_SECONDS,
                "ScaleOutCooldown": SCALE_OUT_COOLDOWN_SECONDS,
            },
        )

    def deregister(self, endpoint_name: str, variant_name: str) -> bool:
        """Deregister the target (its policies go with it); False when it was not registered."""
        try:
            self._client.deregister_scalable_target(
                ServiceNamespace=NAMESPACE,
                ResourceId=resource_id(endpoint_name, variant_name),
                ScalableDimension=DIMENSION,
            )
        except ClientError as error:
            if not _not_registered(error):
                raise
            return False
        return True


def _not_registered(error: ClientError) -> bool:
    """The API's ObjectNotFoundException (moto says ValidationException "No scalable target")."""
    message = str(error.response.get("Error", {}).get("Message", ""))
    return error_code(error) == "ObjectNotFoundException" or (
        error_code(error) == "ValidationException" and "No scalable target" in message
    )
