"""New models and endpoint configs copy the live shape and swap only the model."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from guardrails.rollout import endpoint_configs as shapes
from guardrails.rollout.settings import EndpointSettings
from guardrails.rollout.state import RolloutError

SAGEMAKER_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
LIVE = {
    "EndpointConfigName": "EndpointConfig-abc",
    "ProductionVariants": [
        {
            "VariantName": "AllTraffic",
            "ModelName": "Model-abc",
            "InitialInstanceCount": 3,
            "InstanceType": "ml.c5.xlarge",
            "InitialVariantWeight": 1.0,
            "CurrentInstanceCount": 3,  # describe-only fields are not copied
        }
    ],
    "KmsKeyId": "arn:aws:kms:eu-west-1:111111111111:key/k",
    "DataCaptureConfig": {"EnableCapture": True, "InitialSamplingPercentage": 100},
    "EndpointConfigArn": "arn:aws:sagemaker:eu-west-1:111111111111:endpoint-config/x",
}
NAMES = shapes.ResourceNames(model="m", new_config="c-new", trial_config="c-trial")


def requests(kind: str, **overrides) -> dict:
    return shapes.config_requests(
        kind=kind,
        live_config=LIVE,
        variant_name="AllTraffic",
        candidate_variant=shapes.candidate_variant_name(kind, "AllTraffic"),
        model_name="m",
        names=NAMES,
        first_weight=5,
        deployment_id="d-1",
        **overrides,
    )


@given(
    endpoint=st.from_regex(r"^[a-zA-Z0-9](-?[a-zA-Z0-9]){0,62}$", fullmatch=True),
    deployment=st.text(min_size=1, max_size=80),
)
def test_names_are_valid_deterministic_and_under_the_endpoint_prefix(endpoint, deployment):
    names = shapes.resource_names(endpoint, deployment)
    for name in (names.model, names.new_config, names.trial_config):
        assert SAGEMAKER_NAME.match(name) and name.startswith(shapes.name_prefix(endpoint) + "-")
    assert shapes.resource_names(endpoint, deployment) == names
    assert len({names.model, names.new_config, names.trial_config}) == 3


def test_native_config_keeps_shape_key_and_capture_with_the_new_model():
    new = requests("native")
    assert set(new) == {"new"}
    assert new["new"] == {
        "EndpointConfigName": "c-new",
        "ProductionVariants": [
            {
                "VariantName": "AllTraffic",
                "ModelName": "m",
                "InitialInstanceCount": 3,
                "InstanceType": "ml.c5.xlarge",
                "InitialVariantWeight": 1.0,
            }
        ],
        "KmsKeyId": LIVE["KmsKeyId"],
        "DataCaptureConfig": LIVE["DataCaptureConfig"],
        "Tags": [{"Key": "guardrails:deployment-id", "Value": "d-1"}],
    }


def test_ab_trial_config_has_both_models_weighted_by_the_first_step():
    trial = requests("ab")["trial"]
    variants = {v["VariantName"]: v for v in trial["ProductionVariants"]}
    assert variants["AllTraffic"]["ModelName"] == "Model-abc"
    assert variants["AllTraffic"]["InitialVariantWeight"] == 95.0
    assert variants["Candidate"]["ModelName"] == "m"
    assert variants["Candidate"]["InitialVariantWeight"] == 5.0


def test_shadow_trial_config_mirrors_traffic_to_the_candidate():
    trial = requests("shadow")["trial"]
    assert [v["ModelName"] for v in trial["ProductionVariants"]] == ["Model-abc"]
    assert trial["ShadowProductionVariants"][0]["VariantName"] == "Shadow"
    assert trial["ShadowProductionVariants"][0]["ModelName"] == "m"


@pytest.mark.parametrize("kind", ["native", "ab", "shadow"])
def test_every_new_fleet_starts_at_the_instance_count_it_is_given(kind):
    """The caller passes what the endpoint serves with now; the live config says 3."""
    for request in requests(kind, instance_count=6).values():
        variants = request["ProductionVariants"] + request.get("ShadowProductionVariants", [])
        assert {v["InitialInstanceCount"] for v in variants} == {6}
        # Same variant name and instance type: autoscaling's target survives the update.
        assert variants[0]["VariantName"] == "AllTraffic"
        assert {v["InstanceType"] for v in variants} == {"ml.c5.xlarge"}
    assert LIVE["ProductionVariants"][0]["InitialInstanceCount"] == 3  # not changed in place


def test_a_serverless_variant_gets_no_instance_count():
    serverless = {
        **LIVE,
        "ProductionVariants": [
            {
                "VariantName": "AllTraffic",
                "ModelName": "Model-abc",
                "ServerlessConfig": {"MemorySizeInMB": 2048, "MaxConcurrency": 5},
            }
        ],
    }
    new = shapes.config_requests(
        kind="native",
        live_config=serverless,
        variant_name="AllTraffic",
        candidate_variant="",
        model_name="m",
        names=NAMES,
        first_weight=5,
        deployment_id="d-1",
        instance_count=6,
    )["new"]
    assert "InitialInstanceCount" not in new["ProductionVariants"][0]


def test_a_missing_variant_is_a_clear_error():
    with pytest.raises(RolloutError, match="EndpointConfig-abc has no production variant Blue"):
        shapes.production_variant(LIVE, "Blue")


def test_the_new_model_serves_the_released_container_and_names_its_package():
    vpc = {"SecurityGroupIds": ["sg-1"], "Subnets": ["subnet-1"]}
    container = {"Image": "xgboost:1.7-1", "ModelDataUrl": "s3://released/models/g/3/model.tar.gz"}
    request = shapes.model_request(
        name="m",
        model_package_arn="arn:package",
        container=container,
        role_arn="arn:role",
        live_model={"EnableNetworkIsolation": False, "VpcConfig": vpc},
        deployment_id="d-1",
    )
    assert request["PrimaryContainer"] == container
    assert (request["EnableNetworkIsolation"], request["VpcConfig"]) == (False, vpc)
    assert {"Key": shapes.MODEL_PACKAGE_TAG, "Value": "arn:package"} in request["Tags"]


def test_candidate_variant_names_never_clash_with_production():
    assert shapes.candidate_variant_name("native", "AllTraffic") == ""
    assert shapes.candidate_variant_name("ab", "Candidate") == "Candidate2"


def test_a_first_deploy_config_is_shaped_by_the_settings_alone():
    shape = EndpointSettings(instance_type="ml.c5.large", instance_count=3, max_capacity=5)
    request = shapes.first_config_request(
        name="e-1-c", model_name="e-1-m", shape=shape, kms_key_arn="key", capture_uri="s3://b/c",
        deployment_id="d-1",
    )  # fmt: skip
    assert request["ProductionVariants"] == [
        {"VariantName": "AllTraffic", "ModelName": "e-1-m", "InitialInstanceCount": 3,
         "InstanceType": "ml.c5.large", "InitialVariantWeight": 1.0}
    ]  # fmt: skip
    assert request["KmsKeyId"] == "key"
    assert request["DataCaptureConfig"]["DestinationS3Uri"] == "s3://b/c"
    assert request["DataCaptureConfig"]["KmsKeyId"] == "key"
    uncaptured = shapes.first_config_request(
        name="e-1-c", model_name="e-1-m", shape=EndpointSettings(data_capture_percent=0),
        kms_key_arn="key", capture_uri="s3://b/c", deployment_id="d-1",
    )  # fmt: skip
    assert "DataCaptureConfig" not in uncaptured


def test_a_reshape_changes_the_instance_type_and_capture_and_keeps_the_rest():
    live = {
        "EndpointConfigName": "live",
        "ProductionVariants": [
            {"VariantName": "AllTraffic", "ModelName": "m", "InstanceType": "ml.m5.large",
             "InitialInstanceCount": 2}
        ],
        "KmsKeyId": "key",
        "DataCaptureConfig": {"EnableCapture": True, "InitialSamplingPercentage": 100,
                              "DestinationS3Uri": "s3://live/capture", "KmsKeyId": "key",
                              "CaptureOptions": [{"CaptureMode": "Input"}]},
    }  # fmt: skip
    shape = EndpointSettings(instance_type="ml.c5.xlarge", data_capture_percent=20)
    config = shapes.reshaped(live, shape, kms_key_arn="other-key", capture_uri="s3://elsewhere")
    (variant,) = config["ProductionVariants"]
    assert (variant["InstanceType"], variant["ModelName"]) == ("ml.c5.xlarge", "m")
    capture = config["DataCaptureConfig"]
    assert capture["InitialSamplingPercentage"] == 20
    assert (capture["DestinationS3Uri"], capture["KmsKeyId"]) == ("s3://live/capture", "key")
    assert live["ProductionVariants"][0]["InstanceType"] == "ml.m5.large"  # not changed
    no_capture = EndpointSettings(data_capture_percent=0)
    off = shapes.reshaped(live, no_capture, kms_key_arn="k", capture_uri="u")
    assert "DataCaptureConfig" not in off
