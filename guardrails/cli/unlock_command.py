"""`guardrails unlock`: release a rollout's lock on an endpoint, with the reason on record."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import click

from guardrails import records
from guardrails.cli.aws import Deployed, connect
from guardrails.cli.config import deployed_environment, env_option
from guardrails.cli.errors import Failure, InputError
from guardrails.cli.output import json_option, print_json, say
from guardrails.notifications import UNLOCKED, RolloutEvent
from guardrails.services.sns import Notifier

MAX_REASON = 1000  # characters, like every reason on the deployment record


@click.command()
@env_option("Environment whose endpoint to unlock.")
@click.option("--reason", required=True, help="Why: goes to the rollout's record and to on-call.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@json_option
@click.pass_context
def unlock(ctx: click.Context, env_name: str, reason: str, yes: bool, as_json: bool) -> None:
    """Release the lock a rollout holds on ENV's endpoint, e.g. one whose execution died.

    Shows the holder, its lease and its record, and asks unless --yes. A rollout that is still
    running loses the lock: it stops at its next step and takes its candidate out. The release
    is a decision on that rollout's record, and on-call is told. Nothing is held: exit 0; the
    lock changed hands meanwhile: refused, exit 1.
    """
    if not reason.strip() or len(reason) > MAX_REASON:
        raise InputError(f"--reason: say why the lock is released, in 1-{MAX_REASON} characters")
    deployed = connect(deployed_environment(ctx.obj.config_path, env_name), ctx.obj.profile)
    table = deployed.table()
    name = deployed.endpoint_name
    lock = records.current_lock(table, name)
    if lock is None:
        if as_json:
            print_json({"environment": deployed.env.name, "endpoint": name, "released": None})
            return
        click.echo(f"Endpoint {name}: no rollout holds its lock; nothing to release.")
        return
    holder = str(lock.get("deployment_id", ""))
    record = _record(table, holder)
    say(as_json, _describe(deployed, lock, record))
    if not records.lock_expired(lock, datetime.now(UTC)):
        click.echo(
            f"Warning: the lease is still running: if rollout {holder} is alive it stops at its "
            "next step and takes its candidate out of the endpoint.",
            err=True,
        )
    if not yes:
        click.confirm(f"Release rollout {holder}'s lock on {name}?", abort=True, err=as_json)
    decided_by = f"cli:{deployed.caller_arn}"
    try:
        records.unlock(
            table, endpoint_name=name, holder=holder, decided_by=decided_by, reason=reason
        )
    except records.LockChangedError as error:
        raise Failure(f"refused: {error}") from None
    Notifier(deployed.client("sns"), deployed.topic_arn).notify(
        RolloutEvent(
            kind=UNLOCKED,
            environment=deployed.env.name,
            region=deployed.region,
            endpoint_name=name,
            deployment_id=holder,
            model_package_arn=record.model_package_arn if record else "",
            strategy=record.strategy if record else "",
            started_by=decided_by,
            previous_config=record.previous_endpoint_config if record else "",
            new_config=record.new_endpoint_config if record else "",
            execution_arn=record.execution_arn if record else "",
            reason=reason,
            at=records.now_iso(),
        )
    )
    if as_json:
        print_json(
            {
                "environment": deployed.env.name,
                "endpoint": name,
                "released": lock,
                "record_status": record.status if record else None,
                "released_by": decided_by,
                "reason": reason,
            }
        )
        return
    click.echo(
        f"Released rollout {holder}'s lock on {name}. Check what it serves: "
        f"guardrails status --env {deployed.env.name}"
    )


def _record(table: Any, deployment_id: str) -> records.DeploymentRecord | None:
    try:
        return records.get_deployment(table, deployment_id)
    except records.RecordNotFoundError:
        return None


def _describe(
    deployed: Deployed, lock: dict[str, Any], record: records.DeploymentRecord | None
) -> str:
    expiry = records.lock_expiry(lock)
    lease = f"lease until {expiry}" if expiry else "no lease: it never expires by itself"
    status = f"{record.status} ({record.strategy})" if record else "no record"
    return (
        f"Endpoint {deployed.endpoint_name} ({deployed.env.name}, account {deployed.account}, "
        f"{deployed.region}) is locked by rollout {lock.get('deployment_id')}, started by "
        f"{lock.get('started_by')} at {lock.get('acquired_at')}; {lease}.\n"
        f"Its record: {status}."
    )
