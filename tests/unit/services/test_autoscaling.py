"""The Application Auto Scaling seam, over moto: register, read back, deregister."""

from __future__ import annotations

import boto3
import pytest
from moto import mock_aws

from guardrails.rollout.settings import EndpointSettings
from guardrails.services.autoscaling import AutoscalingSeam, VariantScaling
from tests.aws import REGION


@pytest.fixture
def autoscaling():
    with mock_aws():
        yield AutoscalingSeam(boto3.client("application-autoscaling", region_name=REGION))


def test_registering_is_idempotent_and_updates_the_bounds(autoscaling):
    autoscaling.register("e", "AllTraffic", EndpointSettings())
    autoscaling.register("e", "AllTraffic", EndpointSettings(max_capacity=6))
    assert autoscaling.scaling("e", "AllTraffic") == VariantScaling(2, 6, 750.0)
    assert autoscaling.scaling("e", "Other") is None


def test_the_policy_tracks_invocations_per_instance(autoscaling):
    autoscaling.register("e", "AllTraffic", EndpointSettings(target_invocations_per_instance=300))
    client = boto3.client("application-autoscaling", region_name=REGION)
    (policy,) = client.describe_scaling_policies(ServiceNamespace="sagemaker")["ScalingPolicies"]
    assert policy["ResourceId"] == "endpoint/e/variant/AllTraffic"
    assert policy["PolicyType"] == "TargetTrackingScaling"
    configuration = policy["TargetTrackingScalingPolicyConfiguration"]
    assert configuration["TargetValue"] == 300
    assert configuration["PredefinedMetricSpecification"] == {
        "PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"
    }


def test_deregistering_says_whether_there_was_anything(autoscaling):
    autoscaling.register("e", "AllTraffic", EndpointSettings())
    assert autoscaling.deregister("e", "AllTraffic") is True
    assert autoscaling.scaling("e", "AllTraffic") is None
    assert autoscaling.deregister("e", "AllTraffic") is False
