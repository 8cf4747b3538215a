"""Deployment records and the lock, against moto's DynamoDB."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from moto import mock_aws

from guardrails import records
from tests.aws import create_deployment_table, deployment_record

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
LEASE = 900


def lock(table, endpoint: str, deployment_id: str, by: str = "alice", at: datetime = NOW):
    return records.acquire_lock(
        table,
        endpoint_name=endpoint,
        deployment_id=deployment_id,
        started_by=by,
        now=at,
        lease_seconds=LEASE,
    )


@pytest.fixture
def table():
    with mock_aws():
        yield create_deployment_table()


def test_lock_refuses_a_second_rollout_and_names_the_holder(table):
    lock(table, "e", "d-1")
    with pytest.raises(
        records.LockHeldError,
        match=r"locked by rollout d-1 started by alice at .* \(lease until 2026-11-23T09:15",
    ):
        lock(table, "e", "d-2", by="bob", at=NOW + timedelta(seconds=LEASE - 1))


def test_lock_is_reentrant_for_the_same_rollout(table):
    assert lock(table, "e", "d-1") is None
    assert lock(table, "e", "d-1") is None
    assert records.current_lock(table, "e")["deployment_id"] == "d-1"


def test_only_the_holder_releases_the_lock(table):
    lock(table, "e", "d-1")
    assert records.release_lock(table, endpoint_name="e", deployment_id="d-2") is False
    assert records.current_lock(table, "e") is not None
    assert records.release_lock(table, endpoint_name="e", deployment_id="d-1") is True
    assert records.current_lock(table, "e") is None
    lock(table, "e", "d-2", by="bob")


def test_locks_are_per_endpoint(table):
    lock(table, "a", "d-1")
    lock(table, "b", "d-2")


def test_an_expired_lock_is_taken_over_and_the_old_holder_returned(table):
    lock(table, "e", "d-1")
    later = NOW + timedelta(seconds=LEASE + 1)
    assert records.lock_expired(records.current_lock(table, "e"), later)
    previous = lock(table, "e", "d-2", by="bob", at=later)
    assert (previous["deployment_id"], previous["started_by"]) == ("d-1", "alice")
    assert records.current_lock(table, "e")["deployment_id"] == "d-2"
    assert not records.lock_expired(records.current_lock(table, "e"), later)


def test_a_refreshed_lock_is_not_taken_over(table):
    lock(table, "e", "d-1")
    refreshed_at = NOW + timedelta(seconds=LEASE - 60)
    assert records.refresh_lock(
        table, endpoint_name="e", deployment_id="d-1", now=refreshed_at, lease_seconds=LEASE
    )
    with pytest.raises(records.LockHeldError):
        lock(table, "e", "d-2", at=NOW + timedelta(seconds=LEASE + 1))
    assert records.current_lock(table, "e")["refreshed_at"].startswith("2026-11-23T09:14:00")


def test_only_the_holder_refreshes_its_lock(table):
    lock(table, "e", "d-1")
    assert not records.refresh_lock(
        table, endpoint_name="e", deployment_id="d-2", now=NOW, lease_seconds=LEASE
    )
    assert not records.refresh_lock(
        table, endpoint_name="other", deployment_id="d-1", now=NOW, lease_seconds=LEASE
    )


def test_a_lock_without_a_lease_never_expires(table):
    table.put_item(Item={"pk": records.endpoint_pk("e"), "sk": "LOCK", "deployment_id": "old"})
    assert not records.lock_expired(records.current_lock(table, "e"), NOW + timedelta(days=365))
    with pytest.raises(records.LockHeldError):
        lock(table, "e", "d-2", at=NOW + timedelta(days=365))


def test_an_operator_unlocks_with_a_reason_on_the_record(table):
    lock(table, "e", "d-1")
    released = records.unlock(
        table, endpoint_name="e", holder="d-1", decided_by="cli:alice", reason="INC-42: stale"
    )
    assert released["deployment_id"] == "d-1"
    assert records.current_lock(table, "e") is None
    (decision,) = records.list_decisions(table, "d-1")
    assert (decision["decision"], decision["reason"], decision["decided_by"]) == (
        "unlock",
        "INC-42: stale",
        "cli:alice",
    )
    assert decision["details"]["lock"]["deployment_id"] == "d-1"


def test_unlock_refuses_when_the_lock_changed_hands(table):
    lock(table, "e", "d-2")
    with pytest.raises(records.LockChangedError, match="no longer held by d-1"):
        records.unlock(table, endpoint_name="e", holder="d-1", decided_by="cli", reason="r")
    assert records.current_lock(table, "e")["deployment_id"] == "d-2"
    assert records.list_decisions(table, "d-1") == []


def test_a_notice_is_claimed_once_and_can_be_given_back(table):
    assert records.claim_notice(table, "d-1", "started")
    assert not records.claim_notice(table, "d-1", "started")
    assert records.claim_notice(table, "d-1", "failure")
    records.drop_notice(table, "d-1", "started")
    assert records.claim_notice(table, "d-1", "started")
    assert records.list_decisions(table, "d-1") == []  # notices are not decisions


def test_deployment_round_trips_and_updates(table):
    record = deployment_record()
    records.put_deployment(table, record)
    records.update_deployment(table, record, status=records.STATUS_BAKING, new_endpoint_config="v2")
    loaded = records.get_deployment(table, "d-1")
    assert loaded.previous_endpoint_config == "config-v1"
    assert loaded.new_endpoint_config == "v2"
    assert loaded.status == records.STATUS_BAKING
    assert loaded.updated_at >= loaded.started_at


def test_deployment_ids_are_unique(table):
    record = deployment_record()
    records.put_deployment(table, record)
    with pytest.raises(Exception, match="ConditionalCheckFailed"):
        records.put_deployment(table, record)


def test_unknown_fields_and_ids_are_refused(table):
    record = deployment_record()
    records.put_deployment(table, record)
    with pytest.raises(ValueError, match="unknown field 'colour'"):
        records.update_deployment(table, record, colour="red")
    with pytest.raises(records.RecordNotFoundError, match="deployment nope"):
        records.get_deployment(table, "nope")


def test_deployments_are_listed_newest_first(table):
    records.put_deployment(
        table, deployment_record("d-1", started_at="2026-11-01T00:00:00.000000Z")
    )
    records.put_deployment(
        table, deployment_record("d-2", started_at="2026-11-02T00:00:00.000000Z")
    )
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
    records.put_deployment(
        table, deployment_record("d-1", started_at="2026-11-01T00:00:00.000000Z")
    )
    records.put_deployment(
        table,
        deployment_record(
            "d-2", started_at="2026-11-02T00:00:00.000000Z", trial_endpoint_config="t"
        ),
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


def test_decisions_are_listed_past_a_one_megabyte_page(table):
    """Per-minute judge requests make decisions large: the listing pages through them all."""
    for i in range(12):
        records.add_decision(
            table, deployment_id="d-1", decision="continue", reason=f"round {i}",
            decided_by="judge", details={"request": "x" * 150_000},
        )  # fmt: skip

    assert len(records.list_decisions(table, "d-1", limit=100)) == 12
    assert len(records.list_decisions(table, "d-1", limit=5)) == 5
