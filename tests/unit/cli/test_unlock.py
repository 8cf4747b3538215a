"""`guardrails unlock` against moto: who holds the lock, the release on the record, on-call told."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from guardrails import records
from tests.unit.cli import world as operations

ENDPOINT = operations.ENDPOINT
run = operations.run
world = operations.world  # the deployed prod environment (fixture)


def hold(world, deployment_id: str = "d-2", *, ago: timedelta = timedelta(0)) -> None:
    records.put_deployment(world.table, operations.a_rollout(deployment_id, status="BAKING"))
    records.acquire_lock(
        world.table,
        endpoint_name=ENDPOINT,
        deployment_id=deployment_id,
        started_by="pipeline",
        now=datetime.now(UTC) - ago,
        lease_seconds=900,
    )


def test_a_stale_lock_is_released_with_the_reason_on_the_record(world):
    hold(world, ago=timedelta(hours=2))
    result = run("unlock", "--env", "prod", "--reason", "INC-7: execution died", "--yes")
    assert result.exit_code == 0, result.output
    assert "is locked by rollout d-2, started by pipeline at" in result.stdout
    assert "Its record: BAKING (linear)." in result.stdout
    assert f"Released rollout d-2's lock on {ENDPOINT}." in result.stdout
    assert result.stderr == ""  # the lease had run out: no warning
    assert records.current_lock(world.table, ENDPOINT) is None
    decision = records.list_decisions(world.table, "d-2")[0]
    assert (decision["decision"], decision["reason"]) == ("unlock", "INC-7: execution died")
    assert decision["decided_by"] == f"cli:arn:aws:sts::{operations.ACCOUNT}:user/moto"
    [(_, text, subject, _, _)] = world.notifications()
    assert subject == f"[Guardrails prod] Lock released: {ENDPOINT}"
    assert "INC-7: execution died" in text


def test_a_live_lease_is_released_only_after_a_warning_and_a_yes(world):
    hold(world)
    declined = run("unlock", "--env", "prod", "--reason", "stuck?", input="n\n")
    assert declined.exit_code == 1
    assert "Warning: the lease is still running" in declined.stderr
    assert records.current_lock(world.table, ENDPOINT)["deployment_id"] == "d-2"
    accepted = run("unlock", "--env", "prod", "--reason", "stuck?", input="y\n")
    assert accepted.exit_code == 0, accepted.output
    assert records.current_lock(world.table, ENDPOINT) is None


def test_no_lock_means_nothing_to_do(world):
    result = run("unlock", "--env", "prod", "--reason", "tidy up", "--yes")
    assert result.exit_code == 0
    assert result.stdout.strip() == (
        f"Endpoint {ENDPOINT}: no rollout holds its lock; nothing to release."
    )
    assert world.notifications() == []


def test_a_lock_that_changed_hands_meanwhile_is_not_released(world, monkeypatch):
    hold(world)

    def taken_over(*args, **kwargs):
        raise records.LockChangedError(
            f"endpoint {ENDPOINT}: the lock is no longer held by d-2; nothing released"
        )

    monkeypatch.setattr(records, "unlock", taken_over)
    result = run("unlock", "--env", "prod", "--reason", "stale", "--yes")
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines()[-1] == (
        "Error: refused: endpoint guardrails-prod: the lock is no longer held by d-2; "
        "nothing released"
    )


def test_json_gives_the_released_lock_and_who_released_it(world):
    hold(world, ago=timedelta(hours=2))
    result = run("unlock", "--env", "prod", "--reason", "stale", "--yes", "--json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["released"]["deployment_id"] == "d-2"
    assert document["record_status"] == "BAKING"
    assert document["released_by"] == f"cli:arn:aws:sts::{operations.ACCOUNT}:user/moto"


def test_a_reason_is_required(world):
    missing = run("unlock", "--env", "prod", "--yes")
    assert missing.exit_code == 2 and "--reason" in missing.stderr
    blank = run("unlock", "--env", "prod", "--reason", "  ", "--yes")
    assert blank.exit_code == 2
    assert operations.only_line(blank.stderr) == (
        "Error: --reason: say why the lock is released, in 1-1000 characters"
    )
