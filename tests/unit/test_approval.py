"""guardrails/approval.py: who approved, whether a package may be approved, what is recorded."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from guardrails import approval

EVENTS = Path(__file__).resolve().parents[1] / "fixtures" / "events"
PACKAGE = "arn:aws:sagemaker:us-east-1:111111111111:model-package/guardrails-dev/3"
EXECUTION = "5e1f0a2b-3c4d-4e5f-9a8b-7c6d5e4f3a2b"
APPROVER = "arn:aws:sts::111111111111:assumed-role/Approver/carol"


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


def test_parses_the_recorded_job_event():
    request = approval.parse_job(job_event())
    assert request == approval.JobRequest(
        job_id="c0d3b1a2-5e6f-4a7b-8c9d-0e1f2a3b4c5d", model_package_arn=PACKAGE
    )


@pytest.mark.parametrize(
    ("parameters", "message"),
    [
        ("not json", "UserParameters: must be a JSON object"),
        ('{"model_package_arn": "#{Train.MODEL_PACKAGE_ARN}"}', "not a versioned model package"),
        ('{"model_package_arn": "arn:aws:sagemaker:us-east-1:1:model-package/x"}', "not a versi"),
        ("{}", "UserParameters.model_package_arn"),
    ],
)
def test_bad_user_parameters_are_refused(parameters, message):
    event = job_event()
    event["CodePipeline.job"]["data"]["actionConfiguration"]["configuration"]["UserParameters"] = (
        parameters
    )
    with pytest.raises(approval.ApprovalRefused, match=message):
        approval.parse_job(event)


def test_an_event_without_a_job_is_refused():
    with pytest.raises(approval.ApprovalRefused, match="not a CodePipeline job"):
        approval.job_id({"detail": {}})


def test_finds_the_approver_of_this_execution():
    found = approval.approval_from_state(pipeline_state(), execution_id=EXECUTION)
    assert found == approval.Approval(
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
    with pytest.raises(approval.ApprovalRefused, match=message):
        approval.approval_from_state(state, execution_id=EXECUTION)


def package(**overrides) -> dict:
    return {
        "ModelPackageArn": PACKAGE,
        "ModelPackageGroupName": "guardrails-dev",
        "ModelPackageStatus": "Completed",
        "ModelApprovalStatus": "PendingManualApproval",
        **overrides,
    }


def test_a_pending_package_of_the_group_may_be_approved():
    assert approval.check_package(package(), group_name="guardrails-dev") is False


def test_an_already_approved_package_is_not_approved_twice():
    approved = package(ModelApprovalStatus="Approved")
    assert approval.check_package(approved, group_name="guardrails-dev") is True


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
    with pytest.raises(approval.ApprovalRefused, match=message):
        approval.check_package(package(**overrides), group_name="guardrails-dev")


def test_the_description_names_approver_time_and_execution_and_marks_the_pipeline():
    found = approval.approval_from_state(pipeline_state(), execution_id=EXECUTION)
    text = approval.approval_description(
        found, pipeline_name="Guardrails-Pipeline", execution_id=EXECUTION
    )
    assert text == (
        f"Approved in pipeline Guardrails-Pipeline execution {EXECUTION} by {APPROVER} "
        "at 2026-11-20T09:30:00+00:00: numbers look right"
    )
    assert approval.approved_by_pipeline(text)
    assert not approval.approved_by_pipeline("Looks good on the holdout set")
    assert not approval.approved_by_pipeline(None)


def test_the_description_fits_sagemakers_limit():
    long = approval.Approval(approver=APPROVER, approved_at="now", comment="x" * 5000)
    assert len(approval.approval_description(long, pipeline_name="p", execution_id="e")) == 1024
