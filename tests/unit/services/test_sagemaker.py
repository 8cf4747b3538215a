"""The SageMaker seam: moto where it has the operation, botocore's Stubber where it does not."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import boto3
import pytest
from botocore.response import StreamingBody
from botocore.stub import Stubber
from moto import mock_aws

from guardrails.services.sagemaker import SageMakerSeam
from tests.aws import REGION

ROLE = "arn:aws:iam::123456789012:role/model"


@pytest.fixture
def sagemaker():
    with mock_aws():
        client = boto3.client("sagemaker", region_name=REGION)
        client.create_model(ModelName="m1", ExecutionRoleArn=ROLE, PrimaryContainer={"Image": "i"})
        variants = [
            {"VariantName": name, "ModelName": "m1", "InitialInstanceCount": 1,
             "InstanceType": "ml.m5.large", "InitialVariantWeight": weight}
            for name, weight in (("AllTraffic", 95.0), ("Candidate", 5.0))
        ]  # fmt: skip
        client.create_endpoint_config(EndpointConfigName="c1", ProductionVariants=variants)
        client.create_endpoint(EndpointName="e", EndpointConfigName="c1")
        yield client


def test_describe_endpoint_gives_status_config_and_weights(sagemaker):
    view = SageMakerSeam(sagemaker).describe_endpoint("e")
    assert (view.status, view.config_name, view.in_service, view.busy) == (
        "InService",
        "c1",
        True,
        False,
    )
    assert view.weights == {"AllTraffic": 95.0, "Candidate": 5.0}
    assert view.describe() == "InService on c1"


def test_missing_configs_and_models_are_none_not_errors(sagemaker):
    seam = SageMakerSeam(sagemaker)
    assert seam.endpoint_config("nope") is None
    assert seam.model("nope") is None
    assert seam.endpoint_config("c1")["ProductionVariants"][0]["ModelName"] == "m1"


def test_update_weights_shifts_traffic(sagemaker):
    seam = SageMakerSeam(sagemaker)
    seam.update_weights("e", {"AllTraffic": 75.0, "Candidate": 25.0})
    assert seam.describe_endpoint("e").weights == {"AllTraffic": 75.0, "Candidate": 25.0}


GUARDED = {
    "BlueGreenUpdatePolicy": {
        "TrafficRoutingConfiguration": {"Type": "ALL_AT_ONCE", "WaitIntervalInSeconds": 600}
    },
    "AutoRollbackConfiguration": {"Alarms": [{"AlarmName": "verdict"}]},
}


@pytest.mark.parametrize(
    ("call", "sent"),
    [
        # Guarded: the deployment config with its rollback alarms.
        ({"deployment_config": GUARDED}, {"DeploymentConfig": GUARDED}),
        # Unguarded (a rollback): the last deployment config is dropped, so no alarm undoes it.
        ({"deployment_config": None}, {"RetainDeploymentConfig": False}),
        # A rollback that keeps the instance counts autoscaling set, not the old config's.
        (
            {"deployment_config": None, "keep_instance_counts": True},
            {
                "RetainDeploymentConfig": False,
                "RetainAllVariantProperties": True,
                "ExcludeRetainedVariantProperties": [
                    {"VariantPropertyType": "DesiredWeight"},
                    {"VariantPropertyType": "DataCaptureConfig"},
                ],
            },
        ),
    ],
)
def test_update_endpoint_sends_what_the_update_needs(call, sent):
    client = boto3.client("sagemaker", region_name=REGION)
    with Stubber(client) as stub:
        stub.add_response(
            "update_endpoint",
            {"EndpointArn": "arn:aws:sagemaker:us-east-1:123456789012:endpoint/e"},
            {"EndpointName": "e", "EndpointConfigName": "c2", **sent},
        )
        SageMakerSeam(client).update_endpoint("e", "c2", **call)
        stub.assert_no_pending_responses()


def test_describe_endpoint_reads_instance_counts_and_when_the_new_fleet_took_traffic():
    client = boto3.client("sagemaker", region_name=REGION)
    creating = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    baking = datetime(2026, 11, 23, 9, 8, tzinfo=UTC)
    response = {
        "EndpointName": "e",
        "EndpointArn": "arn:aws:sagemaker:us-east-1:123456789012:endpoint/e",
        "EndpointConfigName": "c1",
        "EndpointStatus": "Updating",
        "CreationTime": creating,
        "LastModifiedTime": baking,
        "ProductionVariants": [
            # Autoscaling is scaling out: the larger count is what the fleet is heading for.
            {"VariantName": "AllTraffic", "CurrentInstanceCount": 5, "DesiredInstanceCount": 6}
        ],
        "PendingDeploymentSummary": {
            "EndpointConfigName": "c2",
            "ProductionVariants": [
                {
                    "VariantName": "AllTraffic",
                    "VariantStatus": [
                        {"Status": "Baking", "StartTime": baking},
                        {"Status": "Creating", "StartTime": creating},
                    ],
                }
            ],
        },
    }
    with Stubber(client) as stub:
        stub.add_response("describe_endpoint", response, {"EndpointName": "e"})
        view = SageMakerSeam(client).describe_endpoint("e")
    assert view.instance_counts == {"AllTraffic": 6}
    assert view.pending_config_name == "c2"
    assert view.pending_traffic_since == baking  # provisioning does not count as traffic


def test_invoke_returns_the_body():
    runtime = boto3.client("sagemaker-runtime", region_name=REGION)
    body = StreamingBody(io.BytesIO(b"0.73"), 4)
    with Stubber(runtime) as stub:
        stub.add_response(
            "invoke_endpoint",
            {"Body": body, "ContentType": "text/csv"},
            {"EndpointName": "e", "Body": b"1,2", "ContentType": "text/csv"},
        )
        assert SageMakerSeam(None, runtime).invoke("e", "1,2", "text/csv") == b"0.73"


def test_invoke_needs_a_runtime_client():
    with pytest.raises(RuntimeError, match="no sagemaker-runtime client"):
        SageMakerSeam(None).invoke("e", "1", "text/csv")


def test_a_routed_invocation_says_which_variant_answered():
    runtime = boto3.client("sagemaker-runtime", region_name=REGION)
    body = StreamingBody(io.BytesIO(b"0.12"), 4)
    with Stubber(runtime) as stub:
        stub.add_response(
            "invoke_endpoint",
            {"Body": body, "ContentType": "text/csv", "InvokedProductionVariant": "Candidate"},
            {"EndpointName": "e", "Body": b"1,2", "ContentType": "text/csv"},
        )
        answer = SageMakerSeam(None, runtime).invoke_routed("e", "1,2", "text/csv")
    assert (answer.body, answer.variant) == (b"0.12", "Candidate")
