"""Rollout stack: the state machine, logged and traced; clean-up of ended executions."""

from __future__ import annotations

import aws_cdk.aws_stepfunctions as sfn
import pytest
from aws_cdk.assertions import Match, Template

from tests.infra.conftest import logged_and_traced_log_group, state_machine_definition


@pytest.fixture(scope="module")
def prod(template_of) -> Template:
    return template_of("prod", "rollout")


def test_the_state_machine_is_timed_out_logged_to_kms_and_traced(prod):
    assert state_machine_definition(prod)["TimeoutSeconds"] == 7200 + 2 * 3600 + 3600
    assert logged_and_traced_log_group(prod).startswith("RolloutStateMachineLogs")


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


@pytest.mark.parametrize(("env", "policy"), [("prod", "Retain"), ("dev", "Delete")])
def test_logs_and_their_key_outlive_the_stack_in_production(template_of, env, policy):
    template = template_of(env, "rollout")
    kept = {
        **template.find_resources("AWS::Logs::LogGroup"),
        **template.find_resources("AWS::KMS::Key"),
    }
    assert len(kept) >= 2
    for logical_id, resource in kept.items():
        assert (resource["DeletionPolicy"], resource["UpdateReplacePolicy"]) == (
            policy,
            policy,
        ), logical_id
