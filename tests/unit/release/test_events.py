"""guardrails/release/events.py: package state changes and pipeline jobs, parsed and checked."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from guardrails.release import events
from guardrails.release.rules import PackageChange

EVENTS = Path(__file__).resolve().parents[2] / "fixtures" / "events"
PACKAGE = "arn:aws:sagemaker:us-east-1:111111111111:model-package/guardrails-dev/3"
PREVIOUS = "arn:aws:sagemaker:us-east-1:111111111111:model-package/guardrails-dev/2"


def job_event() -> dict:
    return json.loads((EVENTS / "codepipeline_mark_approved.json").read_text())


def event(name: str) -> dict:
    return json.loads((EVENTS / f"model_package_{name}.json").read_text())


def test_parses_a_recorded_rejection():
    change = events.parse_change(event("rejected"))
    assert change == PackageChange(
        model_package_arn=PACKAGE,
        group_name="guardrails-dev",
        status="Rejected",
        changed_at="2026-11-21T16:40:11Z",
        changed_by="arn:aws:sts::111111111111:assumed-role/DataScience/bob",
    )
    assert events.change_identity(change) == f"{PACKAGE}#Rejected#2026-11-21T16:40:11Z"


def test_without_a_modification_time_the_event_time_keys_the_change():
    raw = event("approved")
    del raw["detail"]["LastModifiedTime"], raw["detail"]["LastModifiedBy"]
    change = events.parse_change(raw)
    assert change.changed_at == "2026-11-20T09:15:02Z"
    assert change.changed_by == "unknown"


def test_execution_names_are_stable_valid_and_distinct_per_environment():
    change = events.parse_change(event("rejected"))
    prod, staging = events.execution_name(change, "prod"), events.execution_name(change, "staging")
    assert prod == events.execution_name(change, "prod")
    assert prod != staging
    assert prod.startswith("rejected-v3-prod-")
    assert len(prod) <= 80 and all(c.isalnum() or c in "-_" for c in prod)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda e: e.update({"detail-type": "SageMaker Model State Change"}), "detail-type"),
        (lambda e: e.pop("detail"), "detail: must be an object"),
        (lambda e: e["detail"].update(ModelPackageArn="model-3"), "detail.ModelPackageArn"),
        (lambda e: e["detail"].pop("ModelApprovalStatus"), "detail.ModelApprovalStatus"),
    ],
)
def test_unusable_events_name_the_field(mutate, message):
    raw = event("approved")
    mutate(raw)
    with pytest.raises(events.EventError, match=message):
        events.parse_change(raw)


def test_parses_the_recorded_job_event():
    request = events.parse_job(job_event())
    assert request == events.JobRequest(
        job_id="c0d3b1a2-5e6f-4a7b-8c9d-0e1f2a3b4c5d", model_package_arn=PACKAGE
    )


def test_the_jobs_before_prod_name_what_they_approve_and_on_which_evidence():
    execution = "arn:aws:states:us-east-1:222222222222:execution:guardrails-staging-rollout:p-1"
    event = job_event()
    event["CodePipeline.job"]["data"]["actionConfiguration"]["configuration"]["UserParameters"] = (
        json.dumps({"model_package_arn": PACKAGE, "approves": "prod", "evidence": "p-1",
                    "execution_arn": execution})
    )  # fmt: skip
    request = events.parse_job(event)
    assert (request.approves, request.evidence, request.execution_arn) == ("prod", "p-1", execution)


@pytest.mark.parametrize(
    ("parameters", "message"),
    [
        ("not json", "UserParameters: must be a JSON object"),
        ('{"model_package_arn": "#{Train.MODEL_PACKAGE_ARN}"}', "not a versioned model package"),
        ('{"model_package_arn": "arn:aws:sagemaker:us-east-1:1:model-package/x"}', "not a versi"),
        ("{}", "UserParameters.model_package_arn"),
        # An unresolved variable: the staging stage exported no ExecutionArn.
        (json.dumps({"model_package_arn": PACKAGE, "execution_arn": "#{Deploy-staging.X}"}),
         "UserParameters.execution_arn: not a Step Functions execution ARN"),
        (json.dumps({"model_package_arn": PACKAGE, "approves": ["prod"]}),
         "UserParameters.approves: must be text"),
        (json.dumps({"model_package_arn": PACKAGE, "evidence": "x" * 301}),
         "UserParameters.evidence: must be text of at most 300"),
    ],
)  # fmt: skip
def test_bad_user_parameters_are_refused(parameters, message):
    event = job_event()
    event["CodePipeline.job"]["data"]["actionConfiguration"]["configuration"]["UserParameters"] = (
        parameters
    )
    with pytest.raises(events.EventError, match=message):
        events.parse_job(event)


def test_an_event_without_a_job_is_refused():
    with pytest.raises(events.EventError, match="not a CodePipeline job"):
        events.job_id({"detail": {}})
