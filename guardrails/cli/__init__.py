"""`guardrails`: the operator CLI (plan, judge, simulate, status, history, rollback).

Exit codes: 0 ok, 1 the judge said rollback / a check failed / a refusal, 2 bad usage or input.
Every error is one `Error: ...` line on stderr; `--debug` shows the traceback instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    ProfileNotFound,
)

from guardrails.cli.config import CONFIG_ENV_VAR
from guardrails.cli.errors import Failure, InputError


@dataclass(frozen=True)
class Options:
    """Global options every subcommand reads from the click context."""

    config_path: Path | None
    profile: str | None
    debug: bool


class _Group(click.Group):
    """Turns every expected failure into one line and an exit code, never a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except Exception as error:
            if ctx.params.get("debug"):
                raise
            raise _translate(error) from None


def _translate(error: Exception) -> click.ClickException:
    if isinstance(error, ProfileNotFound):
        return InputError(f"--profile: {error}")
    if isinstance(error, NoCredentialsError):
        return Failure(
            "no AWS credentials found: set AWS_PROFILE, pass --profile, or log in (aws sso login)"
        )
    if isinstance(error, NoRegionError):
        return InputError("region: the environment has no region and none is configured")
    if isinstance(error, EndpointConnectionError):
        return Failure(f"cannot reach AWS: {error}")
    if isinstance(error, ClientError):
        details = error.response.get("Error", {})
        operation = error.operation_name
        return Failure(f"AWS {operation}: {details.get('Code')}: {details.get('Message')}")
    if isinstance(error, BotoCoreError):
        return Failure(f"AWS: {error}")
    return Failure(f"unexpected {type(error).__name__}: {error} (run with --debug for details)")


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar=CONFIG_ENV_VAR,
    help=f"cdk.json with the environments (default: the checkout's; env {CONFIG_ENV_VAR}).",
)
@click.option("--profile", envvar="AWS_PROFILE", help="AWS profile (default: AWS_PROFILE).")
@click.option("--debug", is_flag=True, help="Show tracebacks instead of one-line errors.")
@click.version_option(package_name="sagemaker-deployment-guardrails")
@click.pass_context
def cli(ctx: click.Context, config_path: Path | None, profile: str | None, debug: bool) -> None:
    """Operate guarded SageMaker rollouts: plan, judge, simulate, inspect and roll back.

    Exit codes: 0 ok; 1 the judge said rollback, a check failed or a rollback was refused;
    2 bad usage or input.
    """
    ctx.obj = Options(config_path=config_path, profile=profile, debug=debug)


def _register() -> None:
    from guardrails.cli.judge_command import judge
    from guardrails.cli.plan_command import plan
    from guardrails.cli.rollback_command import rollback
    from guardrails.cli.simulate_command import simulate
    from guardrails.cli.status_command import history, status
    from guardrails.cli.unlock_command import unlock

    for command in (plan, judge, simulate, status, history, rollback, unlock):
        cli.add_command(command)


_register()


def main() -> None:
    """Console entry point (`guardrails`, `python -m guardrails`)."""
    cli(prog_name="guardrails")


__all__ = ["Options", "cli", "main"]
