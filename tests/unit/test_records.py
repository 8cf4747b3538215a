"""Deployment records and the lock, against moto's DynamoDB."""

from __future__ import annotations

import pytest
from moto import mock_aws

from guardrails import records
from tests.aws import create_deployment_table


@pytest.fixture
def table():
    with mock_aws():
        yield create_deployment_table()


def a_record(deployment_id: str = "d-1", **overrides) -> records.DeploymentRecord:
    values = dict(
        deployment_id=deployment_id,
        endpoint_name="guardrails-prod",
        environment="prod",
        model_package_arn="arn:aws:sagemaker:us-east-1:111111111111:model-package/g/2",
        previous_endpoint_config="config-v1",
        strategy="canary",
        started_by="pipeline",
    )
    return records.DeploymentRecord(**{**values, **overrides})


def test_lock_refuses_a_second_rollout_and_names_the_holder(table):
    records.acquire_lock(table, endpoint_name="e", deployment_id="d-1", started_by="alice")
    with pytest.raises(records.LockHeldError, match="locked by rollout d-1 started by alice"):
        records.acquire_lock(table, endpoint_name="e", deployment_id="d-2", started_by="bob")


def test_lock_is_reentrant_for_the_same_rollout(table):
    records.acquire_lock(table, endpoint_name="e", deployment_id="d-1", started_by="alice")
    records.acquire_lock(table, endpoint_name="e", deployment_id="d-1", started_by="alice")
    assert records.current_lock(table, "e")["deployment_id"] == "d-1"


def test_only_the_holder_releases_the_lock(table):
    records.acquire_lock(table, endpoint_name="e", deployment_id="d-1", started_by="alice")
    assert records.release_lock(table, endpoint_name="e", deployment_id="d-2") is False
    assert records.current_lock(table, "e") is not None
    assert records.release_lock(table, endpoint_name="e", deployment_id="d-1") is True
    assert records.current_lock(table, "e") is None
    records.acquire_lock(table, endpoint_name="e", deployment_id="d-2", started_by="bob")


def test_locks_are_per_endpoint(table):
    records.acquire_lock(table, endpoint_name="a", deployment_id="d-1", started_by="x")
    records.acquire_lock(table, endpoint_name="b", deployment_id="d-2", started_by="x")


def test_deployment_round_trips_and_updates(table):
    record = a_record()
    records.put_deployment(table, record)
    records.update_deployment(table, record, status=records.STATUS_BAKING, new_endpoint_config="v2")
    loaded = records.get_deployment(table, "d-1")
    assert loaded.previous_endpoint_config == "config-v1"
    assert loaded.new_endpoint_config == "v2"
    assert loaded.status == records.STATUS_BAKING
    assert loaded.updated_at >= loaded.started_at


def test_deployment_ids_are_unique(table):
    record = a_record()
    records.put_deployment(table, record)
    with pytest.raises(Exception, match="ConditionalCheckFailed"):
        records.put_deployment(table, record)


def test_unknown_fields_and_ids_are_refused(table):
    record = a_record()
    records.put_deployment(table, record)
    with pytest.raises(ValueError, match="unknown field 'colour'"):
        records.update_deployment(table, record, colour="red")
    with pytest.raises(records.RecordNotFoundError, match="deployment nope"):
        records.get_deployment(table, "nope")


def test_deployments_are_listed_newest_first(table):
    records.put_deployment(table, a_record("d-1", started_at="2026-11-01T00:00:00.000000Z"))
    records.put_deployment(table, a_record("d-2", started_at="2026-11-02T00:00:00.000000Z"))
    listed = records.list_deployments(table, "guardrails-prod")
    assert [r.deployment_id for r in listed] == ["d-2", "d-1"]
    assert records.list_deployments(table, "other") == []


def test_decisions_keep_who_what_why_and_the_numbers(table):
    records.add_decision(
        table,
        deployment_id="d-1",
        decision="continue",
        reason="not enough data",
        decided_by="judge",
        details={"p_value": 0.2},
    )
    records.add_decision(
        table,
        deployment_id="d-1",
        decision="rollback",
        reason="error_rate regressed",
        decided_by="judge",
        details={"p_value": 0.001, "estimate": 0.012},
    )
    decisions = records.list_decisions(table, "d-1")
    assert [d["decision"] for d in decisions] == ["rollback", "continue"]
    assert decisions[0]["details"] == {"p_value": 0.001, "estimate": 0.012}
    assert decisions[0]["decided_by"] == "judge"


def test_latest_deployment_is_the_newest_or_none(table):
    assert records.latest_deployment(table, "guardrails-prod") is None
    records.put_deployment(table, a_record("d-1", started_at="2026-11-01T00:00:00.000000Z"))
    records.put_deployment(
        table,
        a_record("d-2", started_at="2026-11-02T00:00:00.000000Z", trial_endpoint_config="t"),
    )
    newest = records.latest_deployment(table, "guardrails-prod")
    assert (newest.deployment_id, newest.trial_endpoint_config) == ("d-2", "t")


def test_decisions_written_at_the_same_moment_are_all_kept(table, monkeypatch):
    monkeypatch.setattr(records, "now_iso", lambda: "2026-11-23T09:00:00.000000Z")
    for decision in ("deploy", "continue", "rollback"):
        records.add_decision(
            table, deployment_id="d-1", decision=decision, reason="r", decided_by="judge"
        )
    assert len(records.list_decisions(table, "d-1")) == 3
