"""Endpoint stack: the guardrail per strategy, rollback alarms, capture and autoscaling."""

from __future__ import annotations

import json

import pytest
from aws_cdk.assertions import Capture, Match, Template

from tests.infra.conftest import build, explicit_config

ROLLBACK_ALARMS = [
    {"AlarmName": {"Ref": Match.string_like_regexp("^AlarmsErrorRateAlarm")}},
    {"AlarmName": {"Ref": Match.string_like_regexp("^AlarmsLatencyAlarm")}},
    {"AlarmName": {"Ref": Match.string_like_regexp("^AlarmsVerdictAlarm")}},
]


def deployment_config(template: Template) -> dict:
    endpoints = template.find_resources("AWS::SageMaker::Endpoint")
    (endpoint,) = endpoints.values()
    return endpoint["Properties"]["DeploymentConfig"]


def test_dev_uses_all_at_once_blue_green(template_of):
    template_of("dev", "endpoint").has_resource_properties(
        "AWS::SageMaker::Endpoint",
        {
            "EndpointName": "guardrails-dev",
            "DeploymentConfig": {
                "BlueGreenUpdatePolicy": {
                    "TrafficRoutingConfiguration": {
                        "Type": "ALL_AT_ONCE",
                        "WaitIntervalInSeconds": 300,
                    },
                    "MaximumExecutionTimeoutInSeconds": 3600,
                    "TerminationWaitInSeconds": 300,
                },
                "AutoRollbackConfiguration": {"Alarms": ROLLBACK_ALARMS},
            },
        },
    )


def test_staging_is_ab_so_its_infrastructure_updates_go_all_at_once(template_of):
    """No users: staging replays test data through a judge-paced A/B (README); an update of
    the endpoint stack itself still goes through SageMaker's blue/green with alarm rollback."""
    template_of("staging", "endpoint").has_resource_properties(
        "AWS::SageMaker::Endpoint",
        {
            "DeploymentConfig": {
                "BlueGreenUpdatePolicy": Match.object_like(
                    {
                        "TrafficRoutingConfiguration": {
                            "Type": "ALL_AT_ONCE",
                            "WaitIntervalInSeconds": 1800,
                        }
                    }
                ),
                "AutoRollbackConfiguration": {"Alarms": ROLLBACK_ALARMS},
            }
        },
    )


def test_prod_shifts_traffic_linearly(template_of):
    routing = deployment_config(template_of("prod", "endpoint"))["BlueGreenUpdatePolicy"][
        "TrafficRoutingConfiguration"
    ]
    assert routing == {
        "Type": "LINEAR",
        "WaitIntervalInSeconds": 900,
        "LinearStepSize": {"Type": "CAPACITY_PERCENT", "Value": 25},
    }
    policy = deployment_config(template_of("prod", "endpoint"))["BlueGreenUpdatePolicy"]
    assert policy["MaximumExecutionTimeoutInSeconds"] == 5400  # 4 steps of 15 min and more


@pytest.fixture(scope="module")
def rolling_and_ab() -> dict:
    config = explicit_config(
        staging={"deployment": {"strategy": "rolling", "rolling_batch_percent": 20}},
        prod={"deployment": {"strategy": "ab"}},
    )
    stacks = build(config)
    return {env: Template.from_stack(stacks[env].endpoint) for env in ("staging", "prod")}


def test_rolling_uses_a_rolling_update_policy(rolling_and_ab):
    config = deployment_config(rolling_and_ab["staging"])
    assert "BlueGreenUpdatePolicy" not in config
    assert config["RollingUpdatePolicy"]["MaximumBatchSize"] == {
        "Type": "CAPACITY_PERCENT",
        "Value": 20,
    }
    assert config["RollingUpdatePolicy"]["WaitIntervalInSeconds"] == 1800
    assert len(config["AutoRollbackConfiguration"]["Alarms"]) == 3


def test_ab_endpoint_falls_back_to_all_at_once_for_infrastructure_updates(rolling_and_ab):
    config = deployment_config(rolling_and_ab["prod"])
    assert config["BlueGreenUpdatePolicy"]["TrafficRoutingConfiguration"]["Type"] == "ALL_AT_ONCE"


def test_rollback_alarms_watch_errors_latency_and_the_verdict(template_of):
    template = template_of("prod", "endpoint")
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "Namespace": "AWS/SageMaker",
            "MetricName": "Invocation5XXErrors",
            "Statistic": "Average",
            "Threshold": 0.01,
            "Dimensions": Match.array_with([{"Name": "VariantName", "Value": "AllTraffic"}]),
        },
    )
    # ModelLatency is in microseconds: 500 ms.
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {"MetricName": "ModelLatency", "ExtendedStatistic": "p99", "Threshold": 500000},
    )
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "Namespace": "Guardrails",
            "MetricName": "JudgeVerdict",
            "Statistic": "Maximum",
            "Threshold": 1,
            # One rollback verdict in the last three minutes: a rollout holding the verdict
            # republishes it every minute, and one late round must not clear the alarm.
            "EvaluationPeriods": 3,
            "DatapointsToAlarm": 1,
            "TreatMissingData": "notBreaching",
            "ComparisonOperator": "GreaterThanOrEqualToThreshold",
        },
    )


def test_every_alarm_notifies_on_call(template_of):
    topic = Capture()
    template = template_of("prod", "endpoint")
    template.all_resources_properties(
        "AWS::CloudWatch::Alarm", {"AlarmActions": [topic], "OKActions": [Match.any_value()]}
    )
    assert "OnCallTopic" in topic.as_object()["Fn::ImportValue"]


def test_model_role_may_describe_only_the_rollback_alarms(template_of):
    template_of("prod", "endpoint").has_resource_properties(
        "AWS::IAM::Policy",
        {
            "PolicyDocument": {
                "Statement": [
                    {
                        "Action": "cloudwatch:DescribeAlarms",
                        "Effect": "Allow",
                        "Resource": [
                            {"Fn::GetAtt": [Match.string_like_regexp("^AlarmsErrorRate"), "Arn"]},
                            {"Fn::GetAtt": [Match.string_like_regexp("^AlarmsLatency"), "Arn"]},
                            {"Fn::GetAtt": [Match.string_like_regexp("^AlarmsVerdict"), "Arn"]},
                        ],
                    }
                ]
            }
        },
    )


def test_model_serves_the_model_package_parameter_in_isolation(template_of):
    template = template_of("prod", "endpoint")
    template.has_parameter("ModelPackageArn", {"Type": "String"})
    template.has_resource_properties(
        "AWS::SageMaker::Model",
        {
            "Containers": [{"ModelPackageName": {"Ref": "ModelPackageArn"}}],
            "EnableNetworkIsolation": True,
        },
    )


def test_endpoint_config_is_encrypted_and_captures_data(template_of):
    template_of("prod", "endpoint").has_resource_properties(
        "AWS::SageMaker::EndpointConfig",
        {
            "KmsKeyId": Match.any_value(),
            "ProductionVariants": [
                Match.object_like(
                    {
                        "VariantName": "AllTraffic",
                        "InstanceType": "ml.m5.large",
                        "InitialInstanceCount": 2,
                    }
                )
            ],
            "DataCaptureConfig": Match.object_like(
                {
                    "EnableCapture": True,
                    "InitialSamplingPercentage": 100,
                    "KmsKeyId": Match.any_value(),
                    "DestinationS3Uri": {
                        "Fn::Join": [
                            "",
                            ["s3://", Match.any_value(), "/data-capture/guardrails-prod"],
                        ]
                    },
                }
            ),
        },
    )
    endpoint_config = template_of("prod", "endpoint").find_resources(
        "AWS::SageMaker::EndpointConfig"
    )
    # An explicit name would make every change a failed replacement.
    assert all("EndpointConfigName" not in r["Properties"] for r in endpoint_config.values())


def test_autoscaling_tracks_invocations_on_the_surviving_variant(template_of):
    template = template_of("prod", "endpoint")
    template.has_resource_properties(
        "AWS::ApplicationAutoScaling::ScalableTarget",
        {
            "ResourceId": "endpoint/guardrails-prod/variant/AllTraffic",
            "ScalableDimension": "sagemaker:variant:DesiredInstanceCount",
            "MinCapacity": 2,
            "MaxCapacity": 6,
        },
    )
    (target,) = template.find_resources("AWS::ApplicationAutoScaling::ScalableTarget").values()
    assert "AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint" in json.dumps(
        target["Properties"]["RoleARN"]
    )
    template.has_resource_properties(
        "AWS::ApplicationAutoScaling::ScalingPolicy",
        {
            "PolicyType": "TargetTrackingScaling",
            "TargetTrackingScalingPolicyConfiguration": Match.object_like(
                {
                    "TargetValue": 750,
                    "PredefinedMetricSpecification": {
                        "PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"
                    },
                }
            ),
        },
    )
    template.has_resource(
        "AWS::ApplicationAutoScaling::ScalableTarget",
        {"DependsOn": [Match.string_like_regexp("^Endpoint")]},
    )


def test_the_prod_endpoint_stack_is_termination_protected(shipped_stacks):
    assert shipped_stacks["prod"].endpoint.termination_protection is True
    assert shipped_stacks["staging"].endpoint.termination_protection is False
