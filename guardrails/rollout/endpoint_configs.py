"""Names and request bodies of the model and endpoint configs a rollout creates. Pure.

New configs copy the live config's shape (instance type, KMS key, data capture) and swap in the
new model, so a rollout changes the model and nothing else; the instance count is what the
endpoint serves with now (autoscaling's), which the caller passes in. Variant names are kept,
so autoscaling's scalable target (endpoint/<name>/variant/<variant>) survives the update.
A reshaping rollout (`reshaped`) applies a new shape to the live config first; a first deploy
(`first_config_request`) builds its config from the environment's EndpointSettings alone.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from guardrails.rollout.settings import EndpointSettings
from guardrails.rollout.state import RolloutError

NAME_PREFIX_LENGTH = 44  # + "-" + 10 hex + "-x" stays within SageMaker's 63 characters
CANDIDATE_VARIANT = "Candidate"
SHADOW_VARIANT = "Shadow"
DEPLOYMENT_TAG = "guardrails:deployment-id"
# Models are built from released artifacts, not from the package: this tag names the package.
MODEL_PACKAGE_TAG = "guardrails:model-package-arn"
# ProductionVariant fields that DescribeEndpointConfig returns and CreateEndpointConfig takes.
_VARIANT_FIELDS = (
    "VariantName",
    "ModelName",
    "InitialInstanceCount",
    "InstanceType",
    "InitialVariantWeight",
    "AcceleratorType",
    "CoreDumpConfig",
    "ServerlessConfig",
    "VolumeSizeInGB",
    "ModelDataDownloadTimeoutInSeconds",
    "ContainerStartupHealthCheckTimeoutInSeconds",
    "EnableSSMAccess",
    "ManagedInstanceScaling",
    "RoutingConfig",
    "InferenceAmiVersion",
)
_CONFIG_FIELDS = ("KmsKeyId", "DataCaptureConfig", "AsyncInferenceConfig")


@dataclass(frozen=True)
class ResourceNames:
    """Deterministic names, so a retried step finds what it created before."""

    model: str
    new_config: str
    trial_config: str


def name_prefix(endpoint_name: str) -> str:
    """Every model and config a rollout creates starts with this (IAM scopes on it)."""
    return endpoint_name[:NAME_PREFIX_LENGTH]


def resource_names(endpoint_name: str, deployment_id: str) -> ResourceNames:
    digest = hashlib.sha256(deployment_id.encode()).hexdigest()[:10]
    base = f"{name_prefix(endpoint_name)}-{digest}"
    return ResourceNames(model=f"{base}-m", new_config=f"{base}-c", trial_config=f"{base}-t")


def candidate_variant_name(kind: str, production_variant: str) -> str:
    """The candidate's variant name in A/B and shadow configs ("" for native strategies)."""
    names = {"native": "", "ab": CANDIDATE_VARIANT, "shadow": SHADOW_VARIANT}
    if kind not in names:
        raise ValueError(f"kind: must be native, ab or shadow (got {kind!r})")
    name = names[kind]
    if not name:
        return ""
    return name if name != production_variant else f"{name}2"


def _tags(deployment_id: str) -> list[dict[str, str]]:
    return [{"Key": DEPLOYMENT_TAG, "Value": deployment_id}]


def model_request(
    *,
    name: str,
    model_package_arn: str,
    container: Mapping[str, Any],
    role_arn: str,
    live_model: Mapping[str, Any],
    deployment_id: str,
) -> dict[str, Any]:
    """CreateModel for the new package, with the live model's network settings.

    `container` is the package's released container (guardrails.rollout.artifacts).
    """
    request: dict[str, Any] = {
        "ModelName": name,
        "PrimaryContainer": dict(container),
        "ExecutionRoleArn": role_arn,
        "EnableNetworkIsolation": bool(live_model.get("EnableNetworkIsolation", True)),
        "Tags": [*_tags(deployment_id), {"Key": MODEL_PACKAGE_TAG, "Value": model_package_arn}],
    }
    if live_model.get("VpcConfig"):
        request["VpcConfig"] = live_model["VpcConfig"]
    return request


def production_variant(config: Mapping[str, Any], variant_name: str) -> dict[str, Any]:
    """The named production variant of a DescribeEndpointConfig response, in request shape."""
    for variant in config.get("ProductionVariants", []):
        if variant.get("VariantName") == variant_name:
            return {k: variant[k] for k in _VARIANT_FIELDS if k in variant}
    raise RolloutError(
        f"endpoint config {config.get('EndpointConfigName')} has no production variant "
        f"{variant_name}"
    )


def config_requests(
    *,
    kind: str,
    live_config: Mapping[str, Any],
    variant_name: str,
    candidate_variant: str,
    model_name: str,
    names: ResourceNames,
    first_weight: int,
    deployment_id: str,
    instance_count: int | None = None,
) -> dict[str, dict[str, Any]]:
    """CreateEndpointConfig requests by role: "new" always, "trial" for A/B and shadow.

    `instance_count` replaces the live config's InitialInstanceCount for every instance-based
    variant (serverless variants have none).
    """
    shape = {k: live_config[k] for k in _CONFIG_FIELDS if live_config.get(k)}
    live_variant = production_variant(live_config, variant_name)
    if instance_count is not None and "InitialInstanceCount" in live_variant:
        live_variant["InitialInstanceCount"] = instance_count
    new_variant = {**live_variant, "ModelName": model_name, "InitialVariantWeight": 1.0}
    requests = {
        "new": {
            "EndpointConfigName": names.new_config,
            "ProductionVariants": [new_variant],
            **shape,
            "Tags": _tags(deployment_id),
        }
    }
    candidate = {**new_variant, "VariantName": candidate_variant}
    if kind == "ab":
        requests["trial"] = {
            "EndpointConfigName": names.trial_config,
            "ProductionVariants": [
                {**live_variant, "InitialVariantWeight": float(100 - first_weight)},
                {**candidate, "InitialVariantWeight": float(first_weight)},
            ],
            **shape,
            "Tags": _tags(deployment_id),
        }
    elif kind == "shadow":
        requests["trial"] = {
            "EndpointConfigName": names.trial_config,
            "ProductionVariants": [{**live_variant, "InitialVariantWeight": 1.0}],
            # The shadow gets a copy of every request; its answers are discarded.
            "ShadowProductionVariants": [candidate],
            **shape,
            "Tags": _tags(deployment_id),
        }
    return requests


def ab_weights(variant_name: str, candidate_variant: str, percent: int) -> dict[str, float]:
    """Variant weights giving the candidate `percent` % of the traffic."""
    return {variant_name: float(100 - percent), candidate_variant: float(percent)}


def data_capture_config(
    percent: int, *, destination: str, kms_key_arn: str
) -> dict[str, Any] | None:
    """Capture of requests and responses to `destination`, encrypted; None at 0 %."""
    if percent <= 0:
        return None
    return {
        "EnableCapture": True,
        "InitialSamplingPercentage": percent,
        "DestinationS3Uri": destination,
        "KmsKeyId": kms_key_arn,
        "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
    }


def first_config_request(
    *,
    name: str,
    model_name: str,
    shape: EndpointSettings,
    kms_key_arn: str,
    capture_uri: str,
    deployment_id: str,
) -> dict[str, Any]:
    """CreateEndpointConfig of a first deploy: one variant shaped as the settings say."""
    request: dict[str, Any] = {
        "EndpointConfigName": name,
        "ProductionVariants": [
            {
                "VariantName": shape.variant_name,
                "ModelName": model_name,
                "InitialInstanceCount": shape.instance_count,
                "InstanceType": shape.instance_type,
                "InitialVariantWeight": 1.0,
            }
        ],
        "KmsKeyId": kms_key_arn,
        "Tags": _tags(deployment_id),
    }
    capture = data_capture_config(
        shape.data_capture_percent, destination=capture_uri, kms_key_arn=kms_key_arn
    )
    if capture:
        request["DataCaptureConfig"] = capture
    return request


def reshaped(
    live_config: Mapping[str, Any],
    shape: EndpointSettings,
    *,
    kms_key_arn: str,
    capture_uri: str,
) -> dict[str, Any]:
    """The live config with `shape`'s instance type and data capture, for `config_requests`.

    Data capture keeps the live config's destination and key when it has them. Both variants
    of an A/B or shadow trial config take the new shape.
    """
    config = dict(live_config)
    config["ProductionVariants"] = [
        {**variant, "InstanceType": shape.instance_type}
        if variant.get("VariantName") == shape.variant_name and "InstanceType" in variant
        else variant
        for variant in live_config.get("ProductionVariants", [])
    ]
    live_capture = live_config.get("DataCaptureConfig") or {}
    capture = data_capture_config(
        shape.data_capture_percent,
        destination=live_capture.get("DestinationS3Uri") or capture_uri,
        kms_key_arn=live_capture.get("KmsKeyId") or kms_key_arn,
    )
    config.pop("DataCaptureConfig", None)
    if capture:
        config["DataCaptureConfig"] = {**live_capture, **capture}
    return config
