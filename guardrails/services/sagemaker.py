"""The SageMaker seam: endpoint, endpoint config, model and model package calls.

Wraps a boto3 `sagemaker` client (and a `sagemaker-runtime` client for the smoke test), so tests
hand in moto-backed or Stubber-wrapped clients.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from guardrails.rollout.endpoint_configs import MODEL_PACKAGE_TAG
from guardrails.services.errors import is_not_found

IN_SERVICE = "InService"
# Statuses in which SageMaker is still changing the endpoint: no UpdateEndpoint is possible.
BUSY_STATUSES = ("Creating", "Updating", "SystemUpdating", "RollingBack")
# Variant statuses of a pending (blue/green) deployment once its fleet takes traffic.
TRAFFIC_STATUSES = ("ActivatingTraffic", "Baking")


@dataclass(frozen=True, kw_only=True)
class EndpointView:
    """What an endpoint serves right now."""

    name: str
    status: str
    config_name: str
    pending_config_name: str = ""  # the config a running update moves to, when SageMaker says
    failure_reason: str = ""
    weights: Mapping[str, float] = field(default_factory=dict)  # current weight per variant
    # Instances per variant of the serving fleet: the larger of SageMaker's current and
    # desired count, so a scale-out under way counts.
    instance_counts: Mapping[str, int] = field(default_factory=dict)
    # When the pending deployment's fleet first took traffic (its first ActivatingTraffic or
    # Baking status), when SageMaker says so; None while it is provisioned or unknown.
    pending_traffic_since: datetime | None = None

    @property
    def in_service(self) -> bool:
        return self.status == IN_SERVICE

    @property
    def busy(self) -> bool:
        return self.status in BUSY_STATUSES

    def describe(self) -> str:
        """One line for messages, e.g. "InService on config-v2"."""
        text = f"{self.status} on {self.config_name}"
        if self.pending_config_name:
            text += f" (moving to {self.pending_config_name})"
        if self.failure_reason:
            text += f": {self.failure_reason}"
        return text


@dataclass(frozen=True)
class Answer:
    """What InvokeEndpoint answered, and which production variant answered it.

    During a native blue/green update both fleets carry the same variant name, so the variant
    tells fleets apart only where they are separate variants (A/B).
    """

    body: bytes
    variant: str


class SageMakerSeam:
    """The SageMaker calls of a rollout, over a boto3 client."""

    def __init__(self, client: Any, runtime_client: Any | None = None) -> None:
        self._client = client
        self._runtime = runtime_client

    def find_endpoint(self, name: str) -> EndpointView | None:
        """The endpoint's status and config, or None when there is no such endpoint."""
        try:
            return self.describe_endpoint(name)
        except ClientError as error:
            if is_not_found(error):
                return None
            raise

    def describe_endpoint(self, name: str) -> EndpointView:
        """The endpoint's status and config; ClientError when it does not exist."""
        response = self._client.describe_endpoint(EndpointName=name)
        pending = response.get("PendingDeploymentSummary") or {}
        variants = response.get("ProductionVariants", [])
        traffic_times = [
            status["StartTime"]
            for variant in pending.get("ProductionVariants", [])
            for status in variant.get("VariantStatus", [])
            if status.get("Status") in TRAFFIC_STATUSES and status.get("StartTime")
        ]
        return EndpointView(
            name=name,
            status=response["EndpointStatus"],
            config_name=response["EndpointConfigName"],
            pending_config_name=pending.get("EndpointConfigName", ""),
            failure_reason=response.get("FailureReason") or "",
            weights={
                variant["VariantName"]: float(variant.get("CurrentWeight", 0.0))
                for variant in variants
            },
            instance_counts={
                variant["VariantName"]: max(
                    int(variant.get("CurrentInstanceCount") or 0),
                    int(variant.get("DesiredInstanceCount") or 0),
                )
                for variant in variants
            },
            pending_traffic_since=min(traffic_times) if traffic_times else None,
        )

    def endpoint_config(self, name: str) -> dict[str, Any] | None:
        """DescribeEndpointConfig, or None when there is no such config."""
        try:
            response: dict[str, Any] = self._client.describe_endpoint_config(
                EndpointConfigName=name
            )
        except ClientError as error:
            if is_not_found(error):
                return None
            raise
        return response

    def model(self, name: str) -> dict[str, Any] | None:
        """DescribeModel, or None when there is no such model."""
        try:
            response: dict[str, Any] = self._client.describe_model(ModelName=name)
        except ClientError as error:
            if is_not_found(error):
                return None
            raise
        return response

    def model_package(self, arn: str) -> dict[str, Any]:
        """DescribeModelPackage."""
        response: dict[str, Any] = self._client.describe_model_package(ModelPackageName=arn)
        return response

    def approved_packages(self, group_name: str, *, limit: int = 10) -> list[str]:
        """The ARNs of the group's newest Approved packages, newest first."""
        response = self._client.list_model_packages(
            ModelPackageGroupName=group_name,
            ModelApprovalStatus="Approved",
            SortBy="CreationTime",
            SortOrder="Descending",
            MaxResults=limit,
        )
        return [summary["ModelPackageArn"] for summary in response["ModelPackageSummaryList"]]

    def mark_approved(
        self, model_package_arn: str, description: str, metadata: Mapping[str, str]
    ) -> None:
        """Set the package Approved with its release record: the only call in the system that does.

        One call, so a package is never Approved without the record of who approved it and
        what was released.
        """
        self._client.update_model_package(
            ModelPackageArn=model_package_arn,
            ModelApprovalStatus="Approved",
            ApprovalDescription=description,
            CustomerMetadataProperties=dict(metadata),
        )

    def served_packages(self, endpoint_name: str) -> set[str]:
        """The model package ARNs behind every variant (shadow included) of the endpoint."""
        try:
            endpoint = self._client.describe_endpoint(EndpointName=endpoint_name)
        except ClientError as error:
            if is_not_found(error):
                return set()
            raise
        return self.config_packages(endpoint["EndpointConfigName"])

    def config_packages(self, config_name: str) -> set[str]:
        """The model package ARNs behind every variant (shadow included) of an endpoint config."""
        config = self._client.describe_endpoint_config(EndpointConfigName=config_name)
        variants = config.get("ProductionVariants", []) + config.get(
            "ShadowProductionVariants", []
        )
        packages: set[str] = set()
        for model_name in {v["ModelName"] for v in variants if "ModelName" in v}:
            model = self._client.describe_model(ModelName=model_name)
            containers = [model.get("PrimaryContainer") or {}, *model.get("Containers", [])]
            packages.update(c["ModelPackageName"] for c in containers if c.get("ModelPackageName"))
            # A model the rollout built from a released artifact names its package in a tag.
            tags = self._client.list_tags(ResourceArn=model["ModelArn"]).get("Tags", [])
            packages.update(t["Value"] for t in tags if t.get("Key") == MODEL_PACKAGE_TAG)
        return packages

    def create_model(self, request: Mapping[str, Any]) -> None:
        """CreateModel with a request built by guardrails.rollout.endpoint_configs."""
        self._client.create_model(**request)

    def create_endpoint_config(self, request: Mapping[str, Any]) -> None:
        """CreateEndpointConfig with a request built by guardrails.rollout.endpoint_configs."""
        self._client.create_endpoint_config(**request)

    def create_endpoint(self, name: str, config_name: str) -> None:
        """CreateEndpoint: a first deploy. No DeploymentConfig: there is nothing to roll back to."""
        self._client.create_endpoint(EndpointName=name, EndpointConfigName=config_name)

    def delete_endpoint(self, name: str) -> None:
        """DeleteEndpoint (its configs and models stay, for the record)."""
        self._client.delete_endpoint(EndpointName=name)

    def update_endpoint(
        self,
        name: str,
        config_name: str,
        deployment_config: Mapping[str, Any] | None,
        *,
        keep_instance_counts: bool = False,
    ) -> None:
        """Move the endpoint to `config_name`; without a DeploymentConfig no alarm can undo it.

        `keep_instance_counts`: variants that keep their name keep the instance count the
        endpoint has now (autoscaling's), not the config's (RetainAllVariantProperties, with
        weights and data capture taken from the config).
        """
        request: dict[str, Any] = {"EndpointName": name, "EndpointConfigName": config_name}
        if deployment_config is not None:
            request["DeploymentConfig"] = dict(deployment_config)
        else:
            request["RetainDeploymentConfig"] = False
        if keep_instance_counts:
            request["RetainAllVariantProperties"] = True
            request["ExcludeRetainedVariantProperties"] = [
                {"VariantPropertyType": "DesiredWeight"},
                {"VariantPropertyType": "DataCaptureConfig"},
            ]
        self._client.update_endpoint(**request)

    def update_weights(self, name: str, weights: Mapping[str, float]) -> None:
        """Shift traffic between the endpoint's production variants."""
        self._client.update_endpoint_weights_and_capacities(
            EndpointName=name,
            DesiredWeightsAndCapacities=[
                {"VariantName": variant, "DesiredWeight": float(weight)}
                for variant, weight in weights.items()
            ],
        )

    def invoke(self, name: str, body: str, content_type: str) -> bytes:
        """InvokeEndpoint once; the response body."""
        return self.invoke_routed(name, body, content_type).body

    def invoke_routed(self, name: str, body: str, content_type: str) -> Answer:
        """InvokeEndpoint once, routed by the endpoint's weights; the body and the variant."""
        if self._runtime is None:
            raise RuntimeError("SageMakerSeam: no sagemaker-runtime client was given")
        response = self._runtime.invoke_endpoint(
            EndpointName=name, Body=body.encode(), ContentType=content_type
        )
        return Answer(
            body=response["Body"].read(),
            variant=str(response.get("InvokedProductionVariant") or ""),
        )
