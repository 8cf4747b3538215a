"""Rollout stack: the state machine, logged and traced; clean-up of ended executions."""

from __future__ import annotations

import re

import aws_cdk.aws_stepfunctions as sfn
import pytest
from aws_cdk.assertions import Capture, Match, Template

from tests.infra.conftest import logged_and_traced_log_group, state_machine_definition
from tests.infra.dead_letters import assert_encrypted_queue_pages_on_call


@pytest.fixture(scope="module")
def prod(template_of) -> Template:
    return template_of("prod", "rollout")


def test_the_state_machine_is_timed_out_logged_to_kms_and_traced(prod):
    assert state_machine_definition(prod)["TimeoutSeconds"] == 7200 + 2 * 5400 + 3600
    assert logged_and_traced_log_group(prod).startswith("RolloutStateMachineLogs")


def test_ended_executions_are_handed_to_execution_ended_with_dead_letters(prod):
    queue = Capture()
    prod.has_resource_properties(
        "AWS::Events::Rule",
        {
            "EventPattern": {
                "source": ["aws.states"],
                "detail-type": ["Step Functions Execution Status Change"],
                "detail": {
                    "stateMachineArn": [{"Ref": Match.string_like_regexp("StateMachine")}],
                    "status": ["TIMED_OUT", "ABORTED", "FAILED"],
                },
            },
            "Targets": [
                Match.object_like(
                    {
                        "Arn": {
                            "Fn::GetAtt": [
                                Match.string_like_regexp("^RolloutFunctionsExecutionEnded"),
                                "Arn",
                            ]
                        },
                        "DeadLetterConfig": {"Arn": {"Fn::GetAtt": [queue, "Arn"]}},
                        "RetryPolicy": {
                            "MaximumEventAgeInSeconds": 7200,
                            "MaximumRetryAttempts": 4,
                        },
                    }
                )
            ],
        },
    )
    # The same queue takes what the function itself failed on (asynchronous invocation).
    prod.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Handler": "guardrails.rollout.handlers.execution_ended",
            "DeadLetterConfig": {"TargetArn": {"Fn::GetAtt": [queue.as_string(), "Arn"]}},
        },
    )
    assert_encrypted_queue_pages_on_call(prod, queue.as_string())


def test_execution_ended_may_start_only_this_state_machine(prod):
    prod.has_resource_properties(
        "AWS::IAM::Policy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        {
                            "Action": "states:StartExecution",
                            "Effect": "Allow",
                            "Resource": {"Ref": Match.string_like_regexp("^RolloutStateMachine")},
                        }
                    ]
                )
            },
            "Roles": [{"Ref": Match.string_like_regexp("^RolloutFunctionsExecutionEndedRole")}],
        },
    )


@pytest.mark.parametrize(
    ("metric", "dimension"),
    [
        ("ExecutionsTimedOut", "StateMachineArn"),
        ("RolloutsFailed", "service"),
        ("Errors", "FunctionName"),
    ],
)
def test_the_rollouts_own_failures_page_on_call(prod, metric, dimension):
    prod.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "MetricName": metric,
            "Dimensions": [Match.object_like({"Name": dimension})],
            "Threshold": 1,
            "ComparisonOperator": "GreaterThanOrEqualToThreshold",
            "AlarmActions": [{"Fn::ImportValue": Match.string_like_regexp("OnCallTopic")}],
        },
    )


def test_only_the_functions_whose_failure_nobody_reports_alarm_on_errors(prod):
    alarmed = {
        re.match(r"^RolloutFunctions(\w+?)Function", function["Ref"]).group(1)
        for alarm in prod.find_resources(
            "AWS::CloudWatch::Alarm", {"Properties": {"MetricName": "Errors"}}
        ).values()
        for function in [alarm["Properties"]["Dimensions"][0]["Value"]]
    }
    assert alarmed == {"RecordFailure", "ExecutionEnded"}


def test_failed_rollouts_are_counted_per_environment(template_of):
    for env in ("dev", "prod"):
        template_of(env, "rollout").has_resource_properties(
            "AWS::CloudWatch::Alarm",
            {
                "Namespace": "Guardrails",
                "MetricName": "RolloutsFailed",
                "Dimensions": [{"Name": "service", "Value": f"rollout-{env}"}],
            },
        )


def test_the_state_machine_is_exported_for_the_pipeline(shipped_stacks):
    for stacks in shipped_stacks.values():
        assert isinstance(stacks.rollout.state_machine, sfn.StateMachine)


@pytest.mark.parametrize(("env", "policy"), [("prod", "Retain"), ("dev", "Delete")])
def test_logs_and_their_key_outlive_the_stack_in_production(template_of, env, policy):
    template = template_of(env, "rollout")
    log_groups = template.find_resources("AWS::Logs::LogGroup")
    keys = template.find_resources("AWS::KMS::Key")
    log_keys = {
        group["Properties"]["KmsKeyId"]["Fn::GetAtt"][0] for group in log_groups.values()
    }
    kept = {**log_groups, **{key: keys[key] for key in log_keys}}
    assert len(log_groups) >= 2 and len(log_keys) == 1
    for logical_id, resource in kept.items():
        assert (resource["DeletionPolicy"], resource["UpdateReplacePolicy"]) == (
            policy,
            policy,
        ), logical_id
