"""Rollout stack: the state machine's loop, retries, catches and timeouts; least privilege."""

from __future__ import annotations

import json

import aws_cdk.aws_stepfunctions as sfn
import pytest
from aws_cdk.assertions import Capture, Match, Template

from infra.lambda_code import RUNTIME

TRANSIENT = [
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.ClientExecutionTimeoutException",
    "Lambda.TooManyRequestsException",
    "TransientError",
]


def definition(template: Template) -> dict:
    """The state machine definition, with each function reference replaced by its logical id."""
    (machine,) = template.find_resources("AWS::StepFunctions::StateMachine").values()
    parts = machine["Properties"]["DefinitionString"]["Fn::Join"][1]
    text = "".join(p if isinstance(p, str) else p["Fn::GetAtt"][0] for p in parts)
    return json.loads(text)


@pytest.fixture(scope="module")
def prod(template_of) -> Template:
    return template_of("prod", "rollout")


@pytest.fixture(scope="module")
def states(prod) -> dict:
    return definition(prod)["States"]


def lambda_tasks(states: dict) -> dict:
    return {name: state for name, state in states.items() if state["Type"] == "Task"}


def test_every_lambda_task_retries_transient_errors_and_has_a_timeout(states):
    for name, state in lambda_tasks(states).items():
        retry = state["Retry"][0]
        assert retry["ErrorEquals"] == TRANSIENT, name
        assert retry["MaxAttempts"] == 6 and retry["BackoffRate"] == 2, name
        assert state["TimeoutSeconds"] == 180, name


def test_every_lambda_task_is_caught_into_the_failure_record(states):
    tasks = lambda_tasks(states)
    assert len(tasks) == 10
    for name, state in tasks.items():
        (catch,) = state["Catch"]
        assert catch["ErrorEquals"] == ["States.ALL"], name
        if name == "RecordFailure":
            assert catch["Next"] == "FailureNotRecorded"
        else:
            assert (catch["Next"], catch["ResultPath"]) == ("RecordFailure", "$.error"), name
    assert states["RecordFailure"]["Next"] == "RolloutFailed"
    assert states["RolloutFailed"] == {
        "Type": "Fail",
        "ErrorPath": "$.error",
        "CausePath": "$.cause",
    }


def test_the_judge_loop_waits_judges_and_routes_the_verdict(states):
    assert states["Deploy"]["Next"] == "WaitForMetrics"
    assert states["WaitForMetrics"] == {"Type": "Wait", "Seconds": 60, "Next": "Judge"}
    assert states["Judge"]["Next"] == "Verdict"
    routes = {c["StringEquals"]: c["Next"] for c in states["Verdict"]["Choices"]}
    assert routes == {"rollback": "Rollback", "advance": "ShiftTraffic", "complete": "Promote"}
    assert states["Verdict"]["Default"] == "WaitForMetrics"
    assert states["ShiftTraffic"]["Next"] == "WaitForMetrics"


def test_promotion_is_smoke_tested_and_both_endings_are_verified(states):
    assert states["Promote"]["Next"] == "SmokeTest"
    assert states["SmokeTest"]["Next"] == "FinishPromotion"
    assert states["Rollback"]["Next"] == "FinishRollback"
    assert states["FinishPromotion"]["Parameters"] == {"rollout.$": "$", "expected": "promote"}
    assert states["FinishRollback"]["Parameters"] == {"rollout.$": "$", "expected": "rollback"}
    ended = {c["StringEquals"]: c["Next"] for c in states["RolloutEnded"]["Choices"]}
    assert ended == {"PROMOTED": "Promoted", "ROLLED_BACK": "RolledBack"}
    assert states["RolledBack"]["Type"] == states["NotVerified"]["Type"] == "Fail"


def test_steps_that_wait_for_sagemaker_retry_while_the_endpoint_is_busy(states):
    waiting = {"Rollback", "FinishRollback", "Promote", "SmokeTest", "FinishPromotion",
               "ShiftTraffic"}  # fmt: skip
    for name, state in lambda_tasks(states).items():
        busy = [r for r in state["Retry"] if r["ErrorEquals"] == ["EndpointBusy"]]
        assert bool(busy) == (name in waiting), name
        if busy:
            assert busy[0]["MaxDelaySeconds"] == 300
            # Waits add up to the longest SageMaker update (3600 s) plus provisioning.
            assert busy[0]["MaxAttempts"] == 22


def test_start_gets_the_execution_identity(states):
    assert states["Start"]["Parameters"] == {
        "request.$": "$",
        "deployment_id.$": "$$.Execution.Name",
        "execution_arn.$": "$$.Execution.Id",
    }


def test_the_state_machine_is_timed_out_logged_to_kms_and_traced(prod):
    assert definition(prod)["TimeoutSeconds"] == 7200 + 2 * 3600 + 3600
    log_group = Capture()
    prod.has_resource_properties(
        "AWS::StepFunctions::StateMachine",
        {
            "LoggingConfiguration": {
                "Destinations": [
                    {"CloudWatchLogsLogGroup": {"LogGroupArn": {"Fn::GetAtt": [log_group, "Arn"]}}}
                ],
                "IncludeExecutionData": True,
                "Level": "ALL",
            },
            "TracingConfiguration": {"Enabled": True},
        },
    )
    logs = prod.find_resources("AWS::Logs::LogGroup")[log_group.as_string()]
    assert "KmsKeyId" in logs["Properties"] and logs["Properties"]["RetentionInDays"] == 90


def test_functions_run_the_project_runtime_traced_with_the_environments_settings(template_of):
    for env, strategy in (("dev", "all_at_once"), ("staging", "canary"), ("prod", "linear")):
        settings = Capture()
        template_of(env, "rollout").has_resource_properties(
            "AWS::Lambda::Function",
            {
                "Handler": "guardrails.handlers.judge.handler",
                "Runtime": RUNTIME.name,
                "TracingConfig": {"Mode": "Active"},
                "Environment": {
                    "Variables": Match.object_like(
                        {
                            "ENDPOINT_NAME": f"guardrails-{env}",
                            "VARIANT_NAME": "AllTraffic",
                            "DEPLOYMENT_SETTINGS": settings,
                            "TABLE_NAME": {"Fn::ImportValue": Match.string_like_regexp("Stateful")},
                            "ROLLBACK_ALARM_NAMES": Match.any_value(),
                        }
                    )
                },
            },
        )
        assert json.loads(settings.as_string())["strategy"] == strategy


def test_the_deploy_step_may_pass_only_the_model_role_to_sagemaker(prod):
    prod.has_resource_properties(
        "AWS::IAM::Policy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        {
                            "Action": "iam:PassRole",
                            "Condition": {
                                "StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}
                            },
                            "Effect": "Allow",
                            "Resource": {"Fn::ImportValue": Match.string_like_regexp("ModelExec")},
                        }
                    ]
                )
            },
            "Roles": [{"Ref": Match.string_like_regexp("^RolloutFunctionsDeployRole")}],
        },
    )


def test_only_this_endpoint_can_be_updated(prod):
    updates = Capture()
    prod.has_resource_properties(
        "AWS::IAM::Policy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Action": [
                                    "sagemaker:UpdateEndpoint",
                                    "sagemaker:UpdateEndpointWeightsAndCapacities",
                                ],
                                "Resource": updates,
                            }
                        )
                    ]
                )
            },
            "Roles": [{"Ref": Match.string_like_regexp("^RolloutFunctionsRollbackRole")}],
        },
    )
    resources = [json.dumps(resource) for resource in updates.as_array()]
    assert any(r.endswith(':endpoint/guardrails-prod"]]}') for r in resources)
    assert all(":endpoint/guardrails-prod" in r or ":endpoint-config/" in r for r in resources)


def test_the_verdict_may_only_be_published_to_its_namespace(prod):
    prod.has_resource_properties(
        "AWS::IAM::Policy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        {
                            "Action": "cloudwatch:PutMetricData",
                            "Condition": {"StringEquals": {"cloudwatch:namespace": "Guardrails"}},
                            "Effect": "Allow",
                            "Resource": "*",
                        }
                    ]
                )
            },
            "Roles": [{"Ref": Match.string_like_regexp("^RolloutFunctionsJudgeRole")}],
        },
    )


def test_the_smoke_test_cannot_change_the_endpoint(prod):
    (policy,) = [
        p
        for p in prod.find_resources("AWS::IAM::Policy").values()
        if p["Properties"]["Roles"][0]["Ref"].startswith("RolloutFunctionsSmokeTestRole")
    ]
    actions = set()
    for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
        action = statement["Action"]
        actions.update([action] if isinstance(action, str) else action)
    assert {a for a in actions if a.startswith(("sagemaker:", "iam:", "cloudwatch:"))} == {
        "sagemaker:DescribeEndpoint",
        "sagemaker:DescribeEndpointConfig",
        "sagemaker:InvokeEndpoint",
    }


def test_timed_out_or_aborted_executions_are_cleaned_up(prod):
    prod.has_resource_properties(
        "AWS::Events::Rule",
        {
            "EventPattern": {
                "source": ["aws.states"],
                "detail-type": ["Step Functions Execution Status Change"],
                "detail": {
                    "stateMachineArn": [{"Ref": Match.string_like_regexp("StateMachine")}],
                    "status": ["TIMED_OUT", "ABORTED"],
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
                        }
                    }
                )
            ],
        },
    )


def test_the_state_machine_is_exported_for_the_pipeline(shipped_stacks):
    for stacks in shipped_stacks.values():
        assert isinstance(stacks.rollout.state_machine, sfn.StateMachine)
