"""`guardrails status` and `guardrails history`: what serves now, what is in flight, what ran."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

import click
from botocore.exceptions import ClientError

from guardrails import records
from guardrails.cli import render
from guardrails.cli.aws import Deployed, connect
from guardrails.cli.config import deployed_environment, env_option
from guardrails.cli.errors import EXIT_FAILED, OperationalError
from guardrails.cli.follow import Follower, format_decision, format_ending, interval_option
from guardrails.cli.output import json_option, print_json
from guardrails.services.errors import is_not_found

UNHEALTHY = ("Failed", "OutOfService")


@click.command()
@env_option("Environment to inspect.")
@click.option("--decisions", type=click.IntRange(min=0), default=5, show_default=True,
              help="How many of the latest rollout's decisions to show.")  # fmt: skip
@click.option(
    "--watch",
    is_flag=True,
    help="Follow the rollout in flight, with each decision and the judge's numbers, until it ends.",
)
@interval_option
@json_option
@click.pass_context
def status(
    ctx: click.Context, env_name: str, decisions: int, watch: bool, interval: int, as_json: bool
) -> None:
    """The endpoint, its config and model package, any rollout in flight, the last decisions.

    Exits 1 when the endpoint is Failed or OutOfService. With --watch it then follows the
    rollout in flight (if any) until it ends, and exits 0 only when it was promoted.
    """
    deployed = connect(deployed_environment(ctx.obj.config_path, env_name), ctx.obj.profile)
    facts = gather_status(deployed, decisions)
    in_flight = (facts["lock"] or {}).get("deployment_id")
    if not (watch and in_flight):
        if as_json:
            print_json(facts)
        else:
            click.echo(format_status(facts))
        if facts["endpoint"]["status"] in UNHEALTHY:
            ctx.exit(EXIT_FAILED)
        return
    if not as_json:
        click.echo(format_status(facts) + "\n")
        click.echo(f"Following rollout {in_flight} every {interval} s (Ctrl-C stops following).")
    record = facts["in_flight"] or {}
    follower = Follower(
        deployed,
        deployment_id=in_flight,
        execution_arn=record.get("execution_arn", ""),
        interval=interval,
        on_decision=(lambda d: None) if as_json else (lambda d: click.echo(format_decision(d))),
    )
    follower.skip_decisions_so_far()
    end = follower.run()
    if as_json:
        final = gather_status(deployed, decisions)
        print_json({**final, "followed": in_flight, "result": end.result, "detail": end.detail})
    else:
        click.echo(format_ending(in_flight, end))
    if not end.promoted:
        ctx.exit(EXIT_FAILED)


@click.command()
@env_option("Environment to inspect.")
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True,
              help="How many rollouts, newest first.")  # fmt: skip
@json_option
@click.pass_context
def history(ctx: click.Context, env_name: str, limit: int, as_json: bool) -> None:
    """Past rollouts of the environment's endpoint, newest first, from the deployment records."""
    deployed = connect(deployed_environment(ctx.obj.config_path, env_name), ctx.obj.profile)
    rollouts = records.list_deployments(deployed.table(), deployed.endpoint_name, limit=limit)
    if as_json:
        print_json([asdict(r) for r in rollouts])
        return
    if not rollouts:
        click.echo(f"No rollouts recorded for {deployed.endpoint_name} ({deployed.env.name}).")
        return
    click.echo(format_history(rollouts))


def gather_status(deployed: Deployed, decision_limit: int) -> dict[str, Any]:
    """Everything `status` shows, as plain data."""
    sagemaker = deployed.client("sagemaker")
    name = deployed.endpoint_name
    try:
        endpoint = sagemaker.describe_endpoint(EndpointName=name)
    except ClientError as error:
        if is_not_found(error):
            raise OperationalError(
                f"endpoint {name}: not found in {deployed.region} (account {deployed.account})"
            ) from None
        raise
    table = deployed.table()
    lock = records.current_lock(table, name)
    in_flight = _deployment(table, lock["deployment_id"]) if lock else None
    newest = records.list_deployments(table, name, limit=1)
    latest = in_flight or (newest[0] if newest else None)
    decisions = (
        records.list_decisions(table, latest.deployment_id, limit=decision_limit)
        if latest and decision_limit
        else []
    )
    config_name = endpoint["EndpointConfigName"]
    return {
        "environment": deployed.env.name,
        "account": deployed.account,
        "region": deployed.region,
        "endpoint": {
            "name": name,
            "status": endpoint["EndpointStatus"],
            "failure_reason": endpoint.get("FailureReason", ""),
            "config": config_name,
            "pending_config": endpoint.get("PendingDeploymentSummary", {}).get(
                "EndpointConfigName", ""
            ),
            "last_modified": endpoint.get("LastModifiedTime"),
            "variants": [
                {
                    "name": v["VariantName"],
                    "instances": v.get("CurrentInstanceCount"),
                    "weight": v.get("CurrentWeight"),
                }
                for v in endpoint.get("ProductionVariants", [])
            ],
            "model_packages": _model_packages(sagemaker, config_name),
        },
        "lock": lock,
        "in_flight": asdict(in_flight) if in_flight else None,
        "latest": asdict(latest) if latest else None,
        "decisions": decisions,
        "note": _mismatch(config_name, endpoint["EndpointStatus"], in_flight, latest),
    }


def _deployment(table: Any, deployment_id: str) -> records.DeploymentRecord | None:
    try:
        return records.get_deployment(table, deployment_id)
    except records.RecordNotFoundError:
        return None


def _model_packages(sagemaker: Any, config_name: str) -> list[str]:
    """Model package ARN behind each production variant of the config, where one is known."""
    try:
        config = sagemaker.describe_endpoint_config(EndpointConfigName=config_name)
    except ClientError as error:
        if is_not_found(error):
            return []
        raise
    packages: list[str] = []
    for variant in config.get("ProductionVariants", []):
        try:
            model = sagemaker.describe_model(ModelName=variant["ModelName"])
        except ClientError as error:
            if is_not_found(error):
                continue
            raise
        containers = [model.get("PrimaryContainer") or {}, *model.get("Containers", [])]
        packages.extend(c["ModelPackageName"] for c in containers if c.get("ModelPackageName"))
    return packages


def _mismatch(
    config: str,
    endpoint_status: str,
    in_flight: records.DeploymentRecord | None,
    latest: records.DeploymentRecord | None,
) -> str:
    """A finished rollout whose record disagrees with what the endpoint serves."""
    if in_flight or not latest or endpoint_status != "InService":
        return ""
    expected = {
        records.STATUS_PROMOTED: latest.new_endpoint_config,
        records.STATUS_ROLLED_BACK: latest.previous_endpoint_config,
    }.get(latest.status)
    if expected and expected != config:
        return (
            f"the endpoint serves {config}, but rollout {latest.deployment_id} "
            f"({latest.status}) left it on {expected}"
        )
    return ""


def format_status(facts: dict[str, Any]) -> str:
    endpoint = facts["endpoint"]
    state = endpoint["status"]
    if endpoint["failure_reason"]:
        state += f" ({endpoint['failure_reason']})"
    config = endpoint["config"]
    if isinstance(endpoint["last_modified"], datetime):
        config += f" (since {endpoint['last_modified'].astimezone(UTC):%Y-%m-%d %H:%M:%S}Z)"
    if endpoint["pending_config"]:
        config += f"; updating to {endpoint['pending_config']}"
    variants = "; ".join(
        f"{v['name']}: {v['instances'] if v['instances'] is not None else '?'} instances"
        + (f", weight {v['weight']:g}" if v["weight"] is not None else "")
        for v in endpoint["variants"]
    )
    lines = [
        ("Environment", f"{facts['environment']} (account {facts['account']}, {facts['region']})"),
        ("Endpoint", f"{endpoint['name']}: {state}"),
        ("Endpoint config", config),
        ("Model package", ", ".join(endpoint["model_packages"]) or "unknown"),
        ("Variants", variants or "-"),
        ("Rollout in flight", _in_flight(facts)),
    ]
    latest = facts["latest"]
    if latest and not facts["in_flight"]:
        lines.append(("Last rollout", _rollout_line(latest)))
    parts = [render.fields(lines)]
    if facts["note"]:
        parts.append(f"Note: {facts['note']}")
    if latest and facts["decisions"]:
        rows = [
            [render.short_time(d["decided_at"]), d["decision"], d["decided_by"], d["reason"]]
            for d in facts["decisions"]
        ]
        parts.append(
            f"Latest decisions of {latest['deployment_id']} (newest first):\n"
            + render.table(["decided at (UTC)", "decision", "by", "reason"], rows)
        )
    elif latest:
        parts.append(f"No decisions recorded for {latest['deployment_id']} yet.")
    return "\n\n".join(parts)


def _in_flight(facts: dict[str, Any]) -> str:
    lock, record = facts["lock"], facts["in_flight"]
    if not lock:
        return "none"
    held = f"lock held by {lock['deployment_id']} since {render.short_time(lock['acquired_at'])}"
    return f"{_rollout_line(record)}; {held}" if record else held


def _rollout_line(record: dict[str, Any]) -> str:
    target = record["new_endpoint_config"] or "?"
    return (
        f"{record['deployment_id']} {record['status']} ({record['strategy']}), "
        f"{render.short_arn(record['model_package_arn'])}, "
        f"{record['previous_endpoint_config']} -> {target}, "
        f"started {render.short_time(record['started_at'])} by {record['started_by']}"
    )


def format_history(rollouts: list[records.DeploymentRecord]) -> str:
    rows = [
        [
            render.short_time(r.started_at),
            r.deployment_id,
            r.status,
            r.strategy,
            render.short_arn(r.model_package_arn),
            f"{r.previous_endpoint_config} -> {r.new_endpoint_config or '?'}",
            r.started_by,
            r.reason or r.last_decision or "-",
        ]
        for r in rollouts
    ]
    headers = ["started (UTC)", "rollout", "status", "strategy", "model package", "configs",
               "by", "reason"]  # fmt: skip
    return render.table(headers, rows)
