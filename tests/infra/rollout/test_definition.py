"""The rollout's state machine definition: the judge loop, retries, catches and endings."""

from __future__ import annotations

from tests.infra.conftest import state_machine_definition

TRANSIENT = [
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.ClientExecutionTimeoutException",
    "Lambda.TooManyRequestsException",
    "TransientError",
]


def lambda_tasks(states: dict) -> dict:
    return {name: state for name, state in states.items() if state["Type"] == "Task"}


def test_every_lambda_task_retries_transient_errors_and_has_a_timeout(states):
    for name, state in lambda_tasks(states).items():
        retry = state["Retry"][0]
        assert retry["ErrorEquals"] == TRANSIENT, name
        assert retry["MaxAttempts"] == 6 and retry["BackoffRate"] == 2, name
        assert state["TimeoutSeconds"] == 180, name


def test_every_lambda_task_is_caught_into_the_failure_loop(states):
    tasks = lambda_tasks(states)
    assert len(tasks) == 10
    for name, state in tasks.items():
        (catch,) = state["Catch"]
        assert catch["ErrorEquals"] == ["States.ALL"], name
        if name == "RecordFailure":
            assert catch["Next"] == "FailureNotRecorded"
        else:
            assert (catch["Next"], catch["ResultPath"]) == ("PrepareFailure", "$.error"), name
    # The deployment id is the execution's name, never a field of the failed state.
    assert states["PrepareFailure"] == {
        "Type": "Pass",
        "Parameters": {
            "deployment_id.$": "$$.Execution.Name",
            "error.$": "$.error",
            "state.$": "$",
            "cleanup": False,
            "stuck": False,
        },
        "Next": "RecordFailure",
    }


def test_the_failure_loop_looks_again_every_minute_until_it_settles(states):
    assert "Parameters" not in states["RecordFailure"]  # it gets the whole last round
    assert states["RecordFailure"]["Next"] == "FailureSettled"
    settled = states["FailureSettled"]
    assert [choice["Next"] for choice in settled["Choices"]] == ["CleanedUp", "RolloutFailed"]
    assert settled["Default"] == "WaitToProtect"
    assert states["WaitToProtect"] == {"Type": "Wait", "Seconds": 60, "Next": "RecordFailure"}
    assert states["RolloutFailed"] == {
        "Type": "Fail",
        "ErrorPath": "$.summary.error",
        "CausePath": "$.summary.cause",
    }


def test_a_cleanup_execution_goes_straight_to_the_failure_loop(states, prod):
    assert state_machine_definition(prod)["StartAt"] == "Mode"
    assert states["Mode"] == {
        "Type": "Choice",
        "Choices": [{"Variable": "$.cleanup", "IsPresent": True, "Next": "CleanUp"}],
        "Default": "Start",
    }
    assert states["CleanUp"]["Parameters"] == {
        "deployment_id.$": "$.cleanup.deployment_id",
        "error.$": "$.cleanup.error",
        "state": {},
        "cleanup": True,
        "stuck.$": "$.cleanup.stuck",
    }
    assert states["CleanUp"]["Next"] == "RecordFailure"


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
    waiting = {"FinishRollback", "Promote", "SmokeTest", "FinishPromotion", "ShiftTraffic"}
    for name, state in lambda_tasks(states).items():
        busy = [r for r in state["Retry"] if r["ErrorEquals"] == ["EndpointBusy"]]
        assert bool(busy) == (name in waiting | {"Rollback"}), name
        if name in waiting:
            assert busy[0]["MaxDelaySeconds"] == 300
            # Waits add up to prod's longest SageMaker update (5400 s) plus provisioning.
            assert busy[0]["MaxAttempts"] == 28


def test_the_rollback_step_republishes_a_held_verdict_every_minute(states):
    (hold,) = [r for r in states["Rollback"]["Retry"] if r["ErrorEquals"] == ["EndpointBusy"]]
    # A fixed minute, never backing off: the VerdictAlarm must not clear between two.
    assert (hold["IntervalSeconds"], hold["BackoffRate"]) == (60, 1)
    assert "MaxDelaySeconds" not in hold
    assert hold["MaxAttempts"] == (5400 + 1800) // 60


def test_start_gets_the_execution_identity(states):
    assert states["Start"]["Parameters"] == {
        "request.$": "$",
        "deployment_id.$": "$$.Execution.Name",
        "execution_arn.$": "$$.Execution.Id",
    }
