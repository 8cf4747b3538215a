"""Endpoint stack: no model in CloudFormation, the serving model from SSM, alarms, reconciler."""

from __future__ import annotations

import json

import pytest
from aws_cdk.assertions import Capture, Match, Template

from guardrails.endpoint import settings as reconciler
from guardrails.rollout.serving import serving_model_parameter_name
from tests.infra.conftest import ENVIRONMENTS, actions_of, explicit_config, role_statements


def reconciler_properties(template: Template) -> dict:
    (resource,) = template.find_resources("Custom::GuardedEndpoint").values()
    return resource["Properties"]


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_the_endpoint_stack_reads_the_serving_model_from_ssm(template_of, env):
    template = template_of(env, "endpoint")
    template.has_parameter(
        "ServingModel",
        {
            "Type": "AWS::SSM::Parameter::Value<String>",
            "Default": serving_model_parameter_name(env),
        },
    )
    # The value CloudFormation resolves reaches the reconciler on every deploy.
    properties = reconciler_properties(template)
    assert properties[reconciler.SERVING_MODEL_PROPERTY] == {"Ref": "ServingModel"}


def test_the_parameter_read_is_the_one_the_stateful_stack_creates(template_of):
    stateful = template_of("prod", "stateful")
    stateful.has_resource_properties(
        "AWS::SSM::Parameter", {"Name": serving_model_parameter_name("prod")}
    )


@pytest.mark.parametrize(
    "resource_type",
    [
        "AWS::SageMaker::Model",
        "AWS::SageMaker::EndpointConfig",
        "AWS::SageMaker::Endpoint",
        "AWS::ApplicationAutoScaling::ScalableTarget",
        "AWS::ApplicationAutoScaling::ScalingPolicy",
    ],
)
def test_cloudformation_owns_no_model_and_cannot_put_an_old_one_back(template_of, resource_type):
    for env in ENVIRONMENTS:
        assert template_of(env, "endpoint").find_resources(resource_type) == {}


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_the_reconciler_is_given_the_configured_shape(template_of, env):
    config = explicit_config().environment(env)
    properties = reconciler_properties(template_of(env, "endpoint"))
    assert properties[reconciler.ENDPOINT_NAME_PROPERTY] == config.endpoint_name
    assert properties[reconciler.PRODUCTION_PROPERTY] == ("true" if config.production else "false")
    shape = json.loads(properties[reconciler.ENDPOINT_SETTINGS_PROPERTY])
    assert shape["instance_type"] == config.endpoint.instance_type
    assert (shape["min_capacity"], shape["max_capacity"]) == (
        config.endpoint.min_capacity,
        config.endpoint.max_capacity,
    )


def handler_policy(template: Template) -> list[dict]:
    return role_statements(template, "EndpointHandlerRole")


def allowed(statements: list[dict]) -> set[str]:
    return {action for statement in statements for action in actions_of(statement)}


def test_the_reconciler_starts_only_its_environments_rollout_state_machine(template_of):
    template = template_of("prod", "endpoint")
    arn = Capture()
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Handler": "guardrails.endpoint.handler.on_event",
            "Environment": {
                "Variables": Match.object_like({reconciler.STATE_MACHINE_ARN: arn})
            },
        },
    )
    assert arn.as_string().endswith(":stateMachine:guardrails-prod-rollout")
    (start,) = [s for s in handler_policy(template) if "states:StartExecution" in allowed([s])]
    assert (start["Action"], start["Resource"]) == ("states:StartExecution", arn.as_string())
    # The rollout stack's state machine has that very name.
    template_of("prod", "rollout").has_resource_properties(
        "AWS::StepFunctions::StateMachine", {"StateMachineName": "guardrails-prod-rollout"}
    )


def test_only_a_non_production_reconciler_may_delete_its_endpoint(template_of):
    prod = handler_policy(template_of("prod", "endpoint"))
    assert "sagemaker:DeleteEndpoint" not in allowed(prod)
    staging = handler_policy(template_of("staging", "endpoint"))
    (delete,) = [s for s in staging if "sagemaker:DeleteEndpoint" in allowed([s])]
    assert delete["Resource"].endswith(":endpoint/guardrails-staging")


def test_the_reconciler_changes_no_endpoint_and_no_model(template_of):
    actions = allowed(handler_policy(template_of("staging", "endpoint")))
    assert {a for a in actions if a.startswith("sagemaker:")} == {
        "sagemaker:DescribeEndpoint",
        "sagemaker:DescribeEndpointConfig",
        "sagemaker:DeleteEndpoint",
    }
    assert "ssm:PutParameter" not in actions


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
            },
            "Roles": [{"Fn::ImportValue": Match.string_like_regexp("ModelExecutionRole")}],
        },
    )


def test_the_prod_endpoint_stack_is_termination_protected(shipped_stacks):
    assert shipped_stacks["prod"].endpoint.termination_protection is True
    assert shipped_stacks["staging"].endpoint.termination_protection is False
