"""`guardrails rollback`: put the previous endpoint config back, through the rollout's own path."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import click
from botocore.exceptions import ClientError

from guardrails import records
from guardrails.cli.aws import Deployed, connect
from guardrails.cli.config import deployed_environment, env_option
from guardrails.cli.errors import Failure, InputError, OperationalError
from guardrails.cli.output import json_option, print_json, say
from guardrails.rollout.rollback import RollbackRefused, RollbackResult, rollback_endpoint
from guardrails.rollout.serving import ServingModel, serving_model_parameter_name
from guardrails.services.errors import is_not_found
from guardrails.services.sagemaker import EndpointView, SageMakerSeam
from guardrails.services.sns import Notifier
from guardrails.services.ssm import ServingModelParameter

DEFAULT_REASON = "manual rollback with the guardrails CLI"


@click.command()
@env_option("Environment whose endpoint to roll back.")
@click.option(
    "--to",
    "target",
    metavar="CONFIG",
    help="Endpoint config to return to (default: the one the newest rollout replaced).",
)
@click.option("--reason", default=DEFAULT_REASON, show_default=True,
              help="Why: goes to the deployment record and to on-call.")  # fmt: skip
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option(
    "--force",
    is_flag=True,
    help="Roll back even while a rollout holds the endpoint's lock.",
)
@json_option
@click.pass_context
def rollback(
    ctx: click.Context,
    env_name: str,
    target: str | None,
    reason: str,
    yes: bool,
    force: bool,
    as_json: bool,
) -> None:
    """Start the rollback of ENV's endpoint to the recorded previous endpoint config.

    Asks for confirmation unless --yes. Refuses (exit 1) while a rollout holds the lock (unless
    --force), when the target config does not exist, or while the endpoint is still updating.
    The rollback is recorded as a decision on the newest rollout and on-call is notified.
    """
    if not reason.strip():
        raise InputError("--reason: say why the endpoint is rolled back")
    deployed = connect(deployed_environment(ctx.obj.config_path, env_name), ctx.obj.profile)
    seam = SageMakerSeam(deployed.client("sagemaker"))
    table = deployed.table()
    endpoint = _endpoint(seam, deployed)
    target, origin = _target(table, deployed, target)
    _refuse_early(seam, table, deployed, endpoint, target, force=force)
    say(
        as_json,
        f"Endpoint {deployed.endpoint_name} ({deployed.env.name}, account {deployed.account}, "
        f"{deployed.region}) is {endpoint.describe()}.\n"
        f"Rollback target: {target}{origin}.",
    )
    if not yes:
        click.confirm(f"Roll {deployed.endpoint_name} back to {target}?", abort=True, err=as_json)
    try:
        result = rollback_endpoint(
            sagemaker=seam,
            table=table,
            notifier=Notifier(deployed.client("sns"), deployed.topic_arn),
            endpoint_name=deployed.endpoint_name,
            target_config=target,
            decided_by=f"cli:{deployed.caller_arn}",
            reason=reason,
            force=force,
            environment=deployed.env.name,
            region=deployed.region,
        )
    except RollbackRefused as error:
        raise Failure(f"refused: {error}") from None
    parameter = _record_serving(seam, deployed, result)
    if as_json:
        print_json(
            {
                "environment": deployed.env.name,
                "reason": reason,
                "serving_model_parameter": parameter,
                **asdict(result),
            }
        )
        return
    click.echo(result.message)
    if result.changed:
        click.echo(f"Follow it with: guardrails status --env {deployed.env.name}")


def _record_serving(seam: SageMakerSeam, deployed: Deployed, result: RollbackResult) -> str:
    """Write what serves into the serving-model parameter, as a rollout's ending does.

    So the next `cdk deploy` builds on the config the operator chose, not on the one the
    rollback replaced (the endpoint stack's reconciler holds on a mismatch and tells on-call).
    """
    packages = seam.config_packages(result.target_config)
    parameter = ServingModelParameter(
        deployed.client("ssm"), serving_model_parameter_name(deployed.env.name)
    )
    parameter.write(
        ServingModel(
            model_package_arn=next(iter(packages)) if len(packages) == 1 else "",
            endpoint_config=result.target_config,
            deployment_id=f"cli-rollback:{deployed.caller_arn}",
            updated_at=records.now_iso(),
        )
    )
    return parameter.name


def _endpoint(seam: SageMakerSeam, deployed: Deployed) -> EndpointView:
    try:
        return seam.describe_endpoint(deployed.endpoint_name)
    except ClientError as error:
        if is_not_found(error):
            raise OperationalError(
                f"endpoint {deployed.endpoint_name}: not found in {deployed.region} "
                f"(account {deployed.account})"
            ) from None
        raise


def _target(table: Any, deployed: Deployed, named: str | None) -> tuple[str, str]:
    """The config to return to, and where it comes from (for the confirmation)."""
    if named is not None:
        return named, ""
    newest = records.latest_deployment(table, deployed.endpoint_name)
    if newest is None:
        raise Failure(
            f"endpoint {deployed.endpoint_name} has no rollout on record: name the config with --to"
        )
    return newest.previous_endpoint_config, f" (recorded by rollout {newest.deployment_id})"


def _refuse_early(
    seam: SageMakerSeam,
    table: Any,
    deployed: Deployed,
    endpoint: EndpointView,
    target: str,
    *,
    force: bool,
) -> None:
    """Say no before asking for confirmation; rollback_endpoint checks again when it runs."""
    lock = records.current_lock(table, deployed.endpoint_name)
    if lock and not force:
        raise Failure(
            f"refused: rollout {lock.get('deployment_id')} (started by {lock.get('started_by')}) "
            f"holds the lock on {deployed.endpoint_name}; wait for it or use --force"
        )
    if endpoint.busy:
        raise Failure(
            f"refused: endpoint {deployed.endpoint_name} is {endpoint.describe()}; "
            "roll back once it is InService"
        )
    if seam.endpoint_config(target) is None:
        raise Failure(f"refused: endpoint config {target} does not exist in {deployed.region}")
