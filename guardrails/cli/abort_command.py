"""`guardrails abort`: stop a running rollout and write down who stopped it and why."""

from __future__ import annotations

import click

from guardrails import records
from guardrails.cli import render
from guardrails.cli.aws import connect
from guardrails.cli.config import deployed_environment, env_option
from guardrails.cli.errors import Failure, InputError
from guardrails.cli.output import json_option, print_json, say
from guardrails.services.stepfunctions import Execution, StepFunctionsSeam

# StopExecution's error: the ABORTED execution's event carries it to the cleanup rule.
ABORT_ERROR = "AbortedByOperator"
MAX_REASON = 1000  # characters, like every reason on the deployment record


@click.command()
@env_option("Environment whose running rollout to stop.")
@click.option(
    "--reason",
    required=True,
    help="Why: the execution's stop cause and a decision on the rollout's record.",
)
@click.option(
    "--deployment",
    "deployment_id",
    metavar="ID",
    help="The rollout (execution name) to stop; needed only when several are running.",
)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@json_option
@click.pass_context
def abort(
    ctx: click.Context,
    env_name: str,
    reason: str,
    deployment_id: str | None,
    yes: bool,
    as_json: bool,
) -> None:
    """Stop ENV's running rollout (StopExecution, the reason as its cause).

    The rollout's cleanup rule then takes over: it marks the record, releases the lock and
    protects the endpoint. The abort is recorded as a decision on the rollout, with the
    caller's ARN. Asks first unless --yes. Exits 1 when no rollout is running.
    """
    if not reason.strip() or len(reason) > MAX_REASON:
        raise InputError(f"--reason: say why the rollout is stopped, in 1-{MAX_REASON} characters")
    deployed = connect(deployed_environment(ctx.obj.config_path, env_name), ctx.obj.profile)
    stepfunctions = StepFunctionsSeam(deployed.client("stepfunctions"))
    running = stepfunctions.running_executions(deployed.state_machine_arn())
    target = _target(running, deployment_id, deployed.env.name)
    table = deployed.table()
    lock = records.current_lock(table, deployed.endpoint_name)
    holds_lock = bool(lock and lock.get("deployment_id") == target.name)
    holds = " and holds the endpoint's lock" if holds_lock else ""
    since = f" since {render.utc_time(target.started_at)}" if target.started_at else ""
    where = f"{deployed.env.name}, account {deployed.account}, {deployed.region}"
    say(
        as_json,
        f"Rollout {target.name} on {deployed.endpoint_name} ({where}) is running{since}{holds}.",
    )
    if not yes:
        click.confirm(f"Stop rollout {target.name}?", abort=True, err=as_json)
    aborted_by = f"cli:{deployed.caller_arn}"
    stepfunctions.stop_execution(target.arn, error=ABORT_ERROR, cause=f"{reason} (by {aborted_by})")
    records.add_decision(
        table,
        deployment_id=target.name,
        decision="abort",
        reason=reason,
        decided_by=aborted_by,
        details={"execution_arn": target.arn},
    )
    if as_json:
        print_json(
            {
                "environment": deployed.env.name,
                "deployment_id": target.name,
                "execution_arn": target.arn,
                "aborted_by": aborted_by,
                "reason": reason,
                "status": "ABORTED",
            }
        )
        return
    click.echo(
        f"Rollout {target.name} stopped; its cleanup now protects {deployed.endpoint_name}.\n"
        f"Follow it with: guardrails status --env {deployed.env.name}"
    )


def _target(running: list[Execution], wanted: str | None, env_name: str) -> Execution:
    """The one running rollout to stop; when in doubt, ask for --deployment."""
    if wanted is not None:
        for execution in running:
            if execution.name == wanted:
                return execution
        raise Failure(f"nothing to abort: rollout {wanted} of {env_name} is not running")
    if not running:
        raise Failure(f"nothing to abort: no rollout of {env_name} is running")
    if len(running) > 1:
        names = ", ".join(f"{e.name} (started {render.utc_time(e.started_at)})" for e in running)
        raise InputError(f"--deployment: {len(running)} rollouts are running ({names}): name one")
    return running[0]
