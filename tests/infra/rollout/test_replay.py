"""The Replay step where an environment replays test data: in the judge loop, and allowed little."""

from __future__ import annotations

import json

import pytest
from aws_cdk.assertions import Capture, Match, Template

from tests.infra.conftest import state_machine_definition

STAGING_INTERVAL = 60


@pytest.fixture(scope="module")
def staging(template_of) -> Template:
    return template_of("staging", "rollout")


@pytest.fixture(scope="module")
def staging_states(staging) -> dict:
    return state_machine_definition(staging)["States"]


def replay_statements(template: Template) -> list[dict]:
    """Every statement of the Replay role's policies."""
    statements = []
    for policy in template.find_resources("AWS::IAM::Policy").values():
        roles = json.dumps(policy["Properties"]["Roles"])
        if "RolloutFunctionsReplayRole" in roles:
            statements += policy["Properties"]["PolicyDocument"]["Statement"]
    return statements


def actions_of(statement: dict) -> list[str]:
    actions = statement["Action"]
    return [actions] if isinstance(actions, str) else actions


def test_the_replay_takes_the_waits_place_in_the_judge_loop(staging_states):
    assert "WaitForMetrics" not in staging_states
    replay = staging_states["Replay"]
    assert staging_states["Deploy"]["Next"] == "Replay"
    assert replay["Next"] == "Judge"
    assert staging_states["Verdict"]["Default"] == "Replay"
    assert staging_states["ShiftTraffic"]["Next"] == "Replay"
    # Its counts go beside the state, which the Judge gets whole.
    assert replay["ResultPath"] == "$.replay"
    assert replay["Parameters"] == staging_states["Judge"]["Parameters"] == {"rollout.$": "$"}


def test_the_replay_is_only_in_the_loop_never_on_the_way_out(staging_states):
    """It stops when the judge decides, and on rollback or failure."""
    pointing_at_replay = {
        name
        for name, state in staging_states.items()
        if state.get("Next") == "Replay"
        or state.get("Default") == "Replay"
        or any(choice.get("Next") == "Replay" for choice in state.get("Choices", []))
    }
    assert pointing_at_replay == {"Deploy", "Verdict", "ShiftTraffic"}


def test_the_replay_runs_a_judge_interval_retried_and_caught_like_every_step(
    staging, staging_states
):
    replay = staging_states["Replay"]
    assert replay["TimeoutSeconds"] == STAGING_INTERVAL + 120
    assert replay["Retry"][0]["ErrorEquals"][-1] == "TransientError"
    assert replay["Catch"] == [
        {"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "PrepareFailure"}
    ]
    staging.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Handler": "guardrails.rollout.handlers.replay",
            "Timeout": STAGING_INTERVAL + 60,  # the interval, then the last answer and counts
        },
    )


def test_prod_replays_nothing_and_keeps_its_wait(template_of, states):
    assert states["WaitForMetrics"] == {"Type": "Wait", "Seconds": 60, "Next": "Judge"}
    assert "Replay" not in states
    functions = template_of("prod", "rollout").find_resources(
        "AWS::Lambda::Function",
        {"Properties": {"Handler": "guardrails.rollout.handlers.replay"}},
    )
    assert functions == {}


def test_the_functions_get_the_replay_rate_with_the_traffic_settings(staging):
    traffic = Capture()
    staging.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Handler": "guardrails.rollout.handlers.replay",
            "Environment": {"Variables": Match.object_like({"TRAFFIC_SETTINGS": traffic})},
        },
    )
    settings = json.loads(traffic.as_string())
    assert settings["replay_requests_per_minute"] == 120
    assert settings["expected_requests_per_minute"] == 0


def test_the_replay_invokes_only_this_endpoint(staging):
    statements = replay_statements(staging)
    (invoke,) = [s for s in statements if "sagemaker:InvokeEndpoint" in actions_of(s)]
    assert actions_of(invoke) == ["sagemaker:InvokeEndpoint"]
    assert json.dumps(invoke["Resource"]).endswith(':endpoint/guardrails-staging"')


def test_the_replay_reads_only_the_released_test_data(staging):
    statements = replay_statements(staging)
    (read,) = [s for s in statements if "s3:GetObject" in actions_of(s)]
    assert actions_of(read) == ["s3:GetObject"]
    assert read["Resource"] == "arn:aws:s3:::guardrails-released-111111111111-us-east-1/test-data/*"
    (decrypt,) = [s for s in statements if actions_of(s) == ["kms:Decrypt"]]
    # Through S3 and only for the released bucket's objects (the key's ARN is not derivable).
    assert decrypt["Condition"]["StringLike"] == {
        "kms:EncryptionContext:aws:s3:arn": [
            "arn:aws:s3:::guardrails-released-111111111111-us-east-1",
            "arn:aws:s3:::guardrails-released-111111111111-us-east-1/*",
        ]
    }
    assert not any(a.startswith("s3:Put") for s in statements for a in actions_of(s))


def test_the_replay_publishes_only_into_the_quality_namespace(staging):
    (put,) = [s for s in replay_statements(staging) if "cloudwatch:PutMetricData" in actions_of(s)]
    assert put["Condition"] == {"StringEquals": {"cloudwatch:namespace": "Guardrails/Quality"}}


def test_the_replay_changes_no_endpoint(staging):
    actions = {a for s in replay_statements(staging) for a in actions_of(s)}
    assert not {a for a in actions if a.startswith("sagemaker:") and "Update" in a}
    assert "sagemaker:DescribeModelPackage" in actions  # the release record: where, which SHA
