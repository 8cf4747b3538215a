"""`guardrails start`: a guarded rollout of a model package, on the pipeline's own state machine."""

from __future__ import annotations

import json
import secrets
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

import click
from botocore.exceptions import ClientError

from guardrails import records
from guardrails.arns import ModelPackageArn, parse_model_package_arn
from guardrails.cli.aws import Deployed, connect
from guardrails.cli.config import deployed_environment, env_option
from guardrails.cli.errors import EXIT_FAILED, Failure, InputError
from guardrails.cli.follow import Ending, Follower, format_decision, format_ending, interval_option
from guardrails.cli.output import json_option, print_json, say
from guardrails.services.errors import is_not_found
from guardrails.services.sagemaker import SageMakerSeam
from guardrails.services.stepfunctions import StepFunctionsSeam

DEFAULT_REASON = "started with the guardrails CLI"
MAX_REASON = 1000  # characters; what the rollout's Start step accepts


@click.command()
@env_option("Environment to roll the model package out to.")
@click.option(
    "--model-package",
    "model_package",
    required=True,
    metavar="ARN",
    help="Versioned model package ARN (.../model-package/GROUP/VERSION); must be Approved.",
)
@click.option("--reason", default=DEFAULT_REASON, show_default=True,
              help="Why: goes to the deployment record and to on-call.")  # fmt: skip
@click.option(
    "--wait", is_flag=True, help="Follow the rollout to its end; exit 0 only if promoted."
)
@interval_option
@json_option
@click.pass_context
def start(
    ctx: click.Context,
    env_name: str,
    model_package: str,
    reason: str,
    wait: bool,
    interval: int,
    as_json: bool,
) -> None:
    """Start the guarded rollout of a model package on ENV's rollout state machine.

    The same state machine the pipeline starts (the rollout stack's StateMachineArn): lock,
    record, deploy with the configured guardrail, judge every minute, promote or roll back.
    Refuses (exit 1) while another rollout holds the endpoint's lock or when the package is
    not Approved. With --wait it follows the rollout, printing each decision with the judge's
    numbers, and exits 0 when promoted, 1 when rolled back, failed, aborted or timed out.
    """
    package = _model_package(model_package)
    if not reason.strip() or len(reason) > MAX_REASON:
        raise InputError(f"--reason: say why, in 1-{MAX_REASON} characters")
    deployed = connect(deployed_environment(ctx.obj.config_path, env_name), ctx.obj.profile)
    _same_region(package, deployed)
    _refuse_early(deployed, package)
    state_machine = deployed.state_machine_arn()
    name = execution_name(package, deployed.env.name, datetime.now(UTC))
    started_by = f"cli:{deployed.caller_arn}"
    # The input guardrails.rollout.state.StartRequest reads, as the pipeline sends it.
    payload = json.dumps(
        {"model_package_arn": package.arn, "started_by": started_by, "reason": reason}
    )
    arn = StepFunctionsSeam(deployed.client("stepfunctions")).start_execution(
        state_machine, name, payload
    )
    facts: dict[str, Any] = {
        "environment": deployed.env.name,
        "deployment_id": name,
        "execution_arn": arn,
        "state_machine_arn": state_machine,
        "model_package_arn": package.arn,
        "started_by": started_by,
        "reason": reason,
    }
    where = f"{deployed.env.name}, account {deployed.account}, {deployed.region}"
    say(as_json, f"Started rollout {name} of {package.arn} on {deployed.endpoint_name} ({where}).")
    if not wait:
        if as_json:
            print_json({**facts, "result": "RUNNING"})
        else:
            click.echo(f"Follow it with: guardrails status --env {deployed.env.name} --watch")
        return
    say(as_json, f"Following it every {interval} s (Ctrl-C stops following, not the rollout).")
    follower = Follower(
        deployed,
        deployment_id=name,
        execution_arn=arn,
        interval=interval,
        on_decision=(lambda d: None) if as_json else (lambda d: click.echo(format_decision(d))),
    )
    end = follower.run()
    _report_end(follower, end, facts, as_json)
    if not end.promoted:
        ctx.exit(EXIT_FAILED)


def execution_name(package: ModelPackageArn, environment: str, now: datetime) -> str:
    """A new execution name (the rollout's deployment id) that says who, what and when."""
    stamp = now.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"cli-v{package.version}-{environment}-{stamp}-{secrets.token_hex(2)}"


def _model_package(text: str) -> ModelPackageArn:
    package = parse_model_package_arn(text)
    if package is None:
        raise InputError(
            f"--model-package: not a versioned model package ARN ({text!r}); expected "
            "arn:aws:sagemaker:REGION:ACCOUNT:model-package/GROUP/VERSION"
        )
    return package


def _same_region(package: ModelPackageArn, deployed: Deployed) -> None:
    """SageMaker serves a model only in its own region; the account may be the pipeline's."""
    if package.region != deployed.region:
        raise InputError(
            f"--model-package: is in {package.region}, but {deployed.env.name} is in "
            f"{deployed.region}: models are served in the region they were released in"
        )


def _refuse_early(deployed: Deployed, package: ModelPackageArn) -> None:
    """The Start step checks these again; saying no here spares an execution that fails.

    A package of another account (the pipeline's registry, in a multi-account layout) is not
    read here: only the rollout's own roles may describe it there.
    """
    lock = records.current_lock(deployed.table(), deployed.endpoint_name)
    if lock:
        raise Failure(
            f"refused: rollout {lock.get('deployment_id')} (started by {lock.get('started_by')}) "
            f"holds the lock on {deployed.endpoint_name}; wait for it, or stop it with "
            f"guardrails abort --env {deployed.env.name}"
        )
    if package.account != deployed.account:
        return
    try:
        approval = (
            SageMakerSeam(deployed.client("sagemaker"))
            .model_package(package.arn)
            .get("ModelApprovalStatus", "unknown")
        )
    except ClientError as error:
        if is_not_found(error):
            raise Failure(f"refused: model package {package.arn} does not exist") from None
        raise
    if approval != "Approved":
        raise Failure(
            f"refused: model package {package.arn} is {approval}: only Approved model packages "
            "are rolled out"
        )


def _report_end(follower: Follower, end: Ending, facts: dict[str, Any], as_json: bool) -> None:
    if as_json:
        record = follower.record
        print_json(
            {
                **facts,
                "result": end.result,
                "detail": end.detail,
                "record": asdict(record) if record else None,
                "decisions": follower.decisions(),
            }
        )
    else:
        click.echo(format_ending(str(facts["deployment_id"]), end))
