"""guardrails/release/rules.py: who may approve, and what a package state change calls for."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from guardrails.release import events, rules

EVENTS = Path(__file__).resolve().parents[2] / "fixtures" / "events"
PACKAGE = "arn:aws:sagemaker:us-east-1:111111111111:model-package/guardrails-dev/3"
EXECUTION = "5e1f0a2b-3c4d-4e5f-9a8b-7c6d5e4f3a2b"
APPROVER = "arn:aws:sts::111111111111:assumed-role/Approver/carol"
ALICE = "arn:aws:sts::111111111111:assumed-role/DataScience/alice"  # in the recorded event


def job_event() -> dict:
    return json.loads((EVENTS / "codepipeline_mark_approved.json").read_text())


def pipeline_state(
    *, execution: str = EXECUTION, status: str = "Succeeded", approver: str | None = APPROVER
) -> dict:
    latest = {
        "status": status,
        "summary": "numbers look right",
        "lastStatusChange": datetime(2026, 11, 20, 9, 30, tzinfo=UTC),
    }
    if approver is not None:
        latest["lastUpdatedBy"] = approver
    return {
        "pipelineName": "Guardrails-Pipeline",
        "stageStates": [
            {"stageName": "Train", "latestExecution": {"pipelineExecutionId": execution}},
            {
                "stageName": "Approve",
                "latestExecution": {"pipelineExecutionId": execution, "status": "InProgress"},
                "actionStates": [
                    {"actionName": "Approve", "latestExecution": latest},
                    {"actionName": "MarkApproved", "latestExecution": {"status": "InProgress"}},
                ],
            },
        ],
    }


def test_finds_the_approver_of_this_execution():
    found = rules.approval_from_state(pipeline_state(), execution_id=EXECUTION)
    assert found == rules.Approval(
        approver=APPROVER, approved_at="2026-11-20T09:30:00+00:00", comment="numbers look right"
    )


@pytest.mark.parametrize(
    ("state", "message"),
    [
        (pipeline_state(approver=None), "records no approver"),
        (pipeline_state(approver="  "), "records no approver"),
        (pipeline_state(status="Failed"), "is Failed, not approved"),
        (pipeline_state(execution="another-run"), "last ran in execution another-run"),
        ({"stageStates": []}, "no 'Approve' stage"),
    ],
)
def test_an_approval_that_cannot_be_attributed_is_refused(state, message):
    with pytest.raises(rules.ApprovalRefused, match=message):
        rules.approval_from_state(state, execution_id=EXECUTION)


def package(**overrides) -> dict:
    return {
        "ModelPackageArn": PACKAGE,
        "ModelPackageGroupName": "guardrails-dev",
        "ModelPackageStatus": "Completed",
        "ModelApprovalStatus": "PendingManualApproval",
        **overrides,
    }


def test_a_pending_package_of_the_group_may_be_approved():
    assert rules.check_package(package(), group_name="guardrails-dev") is False


def test_an_already_approved_package_is_not_approved_twice():
    approved = package(ModelApprovalStatus="Approved")
    assert rules.check_package(approved, group_name="guardrails-dev") is True


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"ModelPackageGroupName": "guardrails-prod"}, "belongs to group 'guardrails-prod'"),
        (
            {"ModelApprovalStatus": "Rejected", "ApprovalDescription": "leaks labels"},
            "was rejected \\(leaks labels\\)",
        ),
        ({"ModelPackageStatus": "Failed"}, "is Failed, not Completed"),
    ],
)
def test_packages_that_must_not_be_approved_are_refused(overrides, message):
    with pytest.raises(rules.ApprovalRefused, match=message):
        rules.check_package(package(**overrides), group_name="guardrails-dev")


def test_the_description_names_approver_time_and_execution_and_marks_the_pipeline():
    found = rules.approval_from_state(pipeline_state(), execution_id=EXECUTION)
    text = rules.approval_description(
        found, pipeline_name="Guardrails-Pipeline", execution_id=EXECUTION
    )
    assert text == (
        f"Approved in pipeline Guardrails-Pipeline execution {EXECUTION} by {APPROVER} "
        "at 2026-11-20T09:30:00+00:00: numbers look right"
    )
    assert text.startswith(rules.PIPELINE_APPROVAL_PREFIX)


def test_the_description_fits_sagemakers_limit():
    long = rules.Approval(approver=APPROVER, approved_at="now", comment="x" * 5000)
    assert len(rules.approval_description(long, pipeline_name="p", execution_id="e")) == 1024


PREVIOUS = "arn:aws:sagemaker:us-east-1:111111111111:model-package/guardrails-dev/2"


def event(name: str) -> dict:
    return json.loads((EVENTS / f"model_package_{name}.json").read_text())


def plan(name: str, **kwargs) -> rules.Response:
    change = events.parse_change(event(name))
    values = {
        "group_name": "guardrails-dev",
        "current_status": change.status,
        "release_problem": None,
        **kwargs,
    }
    return rules.plan_response(change, **values)


def test_an_approval_outside_the_approval_step_is_refused_and_says_how_to_release():
    problem = "model package X was approved outside the pipeline's approval step: ..."
    response = plan("approved", release_problem=problem)
    assert response.action == rules.REFUSE
    assert response.deploy_package_arn == ""
    assert response.reason == f"Not released (approved by {ALICE}): {problem}"
    assert rules.SUBJECTS[rules.REFUSE] == (
        "Guardrails: model approved outside the pipeline, not released"
    )


def test_a_pipeline_approval_is_left_to_the_pipeline():
    assert plan("approved", release_problem=None).action == rules.IGNORE


def test_a_stale_event_is_ignored():
    assert plan("approved", current_status="Rejected").action == rules.IGNORE
    assert plan("rejected", current_status="Approved").action == rules.IGNORE


def test_another_groups_package_is_ignored():
    assert plan("approved", group_name="guardrails-prod").action == rules.IGNORE


def test_a_rejected_package_that_serves_nowhere_needs_nothing():
    assert plan("rejected", serving_environments=()).action == rules.IGNORE


def test_a_serving_rejected_package_is_rolled_back_to_the_last_approved():
    response = plan("rejected", serving_environments=("prod",), rollback_package_arn=PREVIOUS)
    assert response.action == rules.ROLLBACK
    assert response.deploy_package_arn == PREVIOUS
    assert response.environments == ("prod",)


def test_with_nothing_approved_left_on_call_is_alerted():
    response = plan("rejected", serving_environments=("staging", "prod"))
    assert response.action == rules.ALERT
    assert "staging, prod" in response.reason
    assert "no Approved, released package" in response.reason


UNREACHABLE = {"staging": "AccessDenied: not authorized to perform sts:AssumeRole"}


def test_a_rejection_is_rolled_back_where_seen_and_on_call_told_of_the_unseen():
    response = plan(
        "rejected",
        serving_environments=("prod",),
        rollback_package_arn=PREVIOUS,
        unreachable_environments=UNREACHABLE,
    )
    assert response.action == rules.ROLLBACK
    assert response.environments == ("prod",)
    assert response.reason.endswith(
        "; could not check whether it serves in staging (AccessDenied: not authorized to perform "
        "sts:AssumeRole): check it by hand (guardrails status --env staging)"
    )


def test_a_rejection_seen_nowhere_but_not_looked_at_everywhere_alerts():
    response = plan("rejected", serving_environments=(), unreachable_environments=UNREACHABLE)
    assert response.action == rules.ALERT
    assert "could not check whether it serves in staging" in response.reason
    assert plan("rejected", serving_environments=(), unreachable_environments={}).action == (
        rules.IGNORE
    )
