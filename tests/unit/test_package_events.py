"""guardrails/package_events.py: reading events and settings, and deciding what a change means."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from guardrails import package_events as pe

EVENTS = Path(__file__).resolve().parents[1] / "fixtures" / "events"
PACKAGE = "arn:aws:sagemaker:us-east-1:111111111111:model-package/guardrails-dev/3"
PREVIOUS = "arn:aws:sagemaker:us-east-1:111111111111:model-package/guardrails-dev/2"


def event(name: str) -> dict:
    return json.loads((EVENTS / f"model_package_{name}.json").read_text())


def test_parses_a_recorded_rejection():
    change = pe.parse_change(event("rejected"))
    assert change == pe.PackageChange(
        model_package_arn=PACKAGE,
        group_name="guardrails-dev",
        status="Rejected",
        changed_at="2026-11-21T16:40:11Z",
        changed_by="arn:aws:sts::111111111111:assumed-role/DataScience/bob",
    )
    assert change.key == {
        "pk": f"PACKAGE#{PACKAGE}",
        "sk": "CHANGE#Rejected#2026-11-21T16:40:11Z",
    }


def test_without_a_modification_time_the_event_time_keys_the_change():
    raw = event("approved")
    del raw["detail"]["LastModifiedTime"], raw["detail"]["LastModifiedBy"]
    change = pe.parse_change(raw)
    assert change.changed_at == "2026-11-20T09:15:02Z"
    assert change.changed_by == "unknown"


def test_execution_names_are_stable_valid_and_distinct_per_environment():
    change = pe.parse_change(event("rejected"))
    prod, staging = change.execution_name("prod"), change.execution_name("staging")
    assert prod == change.execution_name("prod")
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
    with pytest.raises(pe.PackageEventError, match=message):
        pe.parse_change(raw)


TARGETS = json.dumps(
    [
        {"environment": "staging", "endpoint_name": "guardrails-staging", "state_machine_arn": "s"},
        {"environment": "prod", "endpoint_name": "guardrails-prod", "state_machine_arn": "p"},
    ]
)
ENVIRON = {
    "MODEL_PACKAGE_GROUP_NAME": "guardrails-dev",
    "DEPLOYMENT_TABLE_NAME": "table",
    "RELEASE_STATE_MACHINE_ARN": "release",
    "ON_CALL_TOPIC_ARN": "topic",
    "DEPLOY_TARGETS": TARGETS,
}


def test_settings_keep_the_deploy_order():
    settings = pe.load_settings(ENVIRON)
    assert [t.environment for t in settings.targets] == ["staging", "prod"]
    assert settings.targets[1].endpoint_name == "guardrails-prod"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"ON_CALL_TOPIC_ARN": ""}, "ON_CALL_TOPIC_ARN: required"),
        ({"DEPLOY_TARGETS": "[{"}, "DEPLOY_TARGETS: not valid JSON"),
        ({"DEPLOY_TARGETS": "{}"}, "DEPLOY_TARGETS: must be a JSON list"),
        ({"DEPLOY_TARGETS": '[{"environment": "prod"}]'}, r"DEPLOY_TARGETS\[0\]: needs"),
    ],
)
def test_bad_settings_name_the_variable(changes, message):
    with pytest.raises(pe.PackageEventError, match=message):
        pe.load_settings({**ENVIRON, **changes})


def plan(name: str, **kwargs) -> pe.Response:
    change = pe.parse_change(event(name))
    values = {
        "group_name": "guardrails-dev",
        "current_status": change.status,
        "approval_description": None,
        **kwargs,
    }
    return pe.plan_response(change, **values)


def test_a_console_approval_releases_the_package():
    response = plan("approved", approval_description="Looks good on the holdout set")
    assert response.action == pe.RELEASE
    assert response.deploy_package_arn == PACKAGE
    assert "DataScience/alice" in response.reason


def test_a_pipeline_approval_is_left_to_the_pipeline():
    response = plan("approved", approval_description="Approved in pipeline P execution E by x")
    assert response.action == pe.IGNORE


def test_a_stale_event_is_ignored():
    assert plan("approved", current_status="Rejected").action == pe.IGNORE
    assert plan("rejected", current_status="Approved").action == pe.IGNORE


def test_another_groups_package_is_ignored():
    assert plan("approved", group_name="guardrails-prod").action == pe.IGNORE


def test_a_rejected_package_that_serves_nowhere_needs_nothing():
    assert plan("rejected", serving_environments=()).action == pe.IGNORE


def test_a_serving_rejected_package_is_rolled_back_to_the_last_approved():
    response = plan("rejected", serving_environments=("prod",), rollback_package_arn=PREVIOUS)
    assert response.action == pe.ROLLBACK
    assert response.deploy_package_arn == PREVIOUS
    assert response.environments == ("prod",)


def test_with_nothing_approved_left_on_call_is_alerted():
    response = plan("rejected", serving_environments=("staging", "prod"))
    assert response.action == pe.ALERT
    assert "staging, prod" in response.reason
    assert "no Approved package" in response.reason
