"""`guardrails`: the operator CLI (plan, judge, simulate, start, status, history, abort,
rollback, unlock).

Exit codes: 0 ok; 1 the judge said rollback, a rollout did not promote, a check failed or a
request was refused; 2 bad usage or input; 3 AWS or another operational error. Every error is
one `Error: ...` line on stderr (a JSON document with `--json`); `--debug` shows the traceback.
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

from guardrails.cli.config import APP_DIR_ENV_VAR, CONFIG_ENV_VAR, find_cdk_json
from guardrails.cli.errors import (
    EXIT_FAILED,
    InputError,
    JsonError,
    OperationalError,
)

PROG_NAME = "guardrails"
_WANTS_JSON = "guardrails.json"


@dataclass(frozen=True)
class Options:
    """Global options every subcommand reads from the click context."""

    config_path: Path | None  # the cdk.json found (None: there is none; see cli/config.py)
    profile: str | None
    debug: bool


class _Group(click.Group):
    """Turns every expected failure into one line (or one JSON document) and an exit code."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        ctx.meta[_WANTS_JSON] = "--json" in (args[: args.index("--")] if "--" in args else args)
        try:
            return super().parse_args(ctx, args)
        except click.ClickException as error:
            raise _for_caller(ctx, error) from None

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.exceptions.Exit:
            raise
        except click.Abort:
            if ctx.meta.get(_WANTS_JSON):
                raise JsonError("aborted: not confirmed", EXIT_FAILED) from None
            raise
        except click.ClickException as error:
            raise _for_caller(ctx, error) from None
        except Exception as error:
            if ctx.params.get("debug"):
                raise
            raise _for_caller(ctx, _translate(error)) from None


def _for_caller(ctx: click.Context, error: click.ClickException) -> click.ClickException:
    """The error as a JSON document on stderr when the command line asked for --json."""
    if ctx.meta.get(_WANTS_JSON) and not isinstance(error, JsonError):
        return JsonError(error.format_message(), error.exit_code)
    return error


def _translate(error: Exception) -> click.ClickException:
    """AWS and unexpected errors: what they mean for the operator, and their exit code."""
    if isinstance(error, ProfileNotFound):
        return InputError(f"--profile: {error}")
    if isinstance(error, NoRegionError):
        return InputError("region: the environment has no region and none is configured")
    if isinstance(error, NoCredentialsError):
        return OperationalError(
            "no AWS credentials found: set AWS_PROFILE, pass --profile, or log in (aws sso login)"
        )
    if isinstance(error, EndpointConnectionError):
        return OperationalError(f"cannot reach AWS: {error}")
    if isinstance(error, ClientError):
        details = error.response.get("Error", {})
        operation = error.operation_name
        return OperationalError(f"AWS {operation}: {details.get('Code')}: {details.get('Message')}")
    if isinstance(error, BotoCoreError):
        return OperationalError(f"AWS: {error}")
    return OperationalError(
        f"unexpected {type(error).__name__}: {error} (run with --debug for details)"
    )


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar=CONFIG_ENV_VAR,
    help=f"The app's cdk.json (env {CONFIG_ENV_VAR}).",
)
@click.option(
    "--app-dir",
    type=click.Path(file_okay=False, path_type=Path),
    envvar=APP_DIR_ENV_VAR,
    help=f"The app's checkout, holding cdk.json (env {APP_DIR_ENV_VAR}; default: the current "
    "directory or the nearest parent with one).",
)
@click.option("--profile", envvar="AWS_PROFILE", help="AWS profile (default: AWS_PROFILE).")
@click.option("--debug", is_flag=True, help="Show tracebacks instead of one-line errors.")
@click.version_option(package_name="sagemaker-deployment-guardrails")
@click.pass_context
def cli(
    ctx: click.Context,
    config_path: Path | None,
    app_dir: Path | None,
    profile: str | None,
    debug: bool,
) -> None:
    """Operate guarded SageMaker rollouts: plan, judge, simulate, start, follow, abort, inspect
    and roll back.

    Exit codes: 0 ok; 1 the judge said rollback, a rollout did not promote, a check failed or a
    request was refused; 2 bad usage or input; 3 AWS or another operational error (no
    credentials, access denied, throttling, network, a stack or endpoint not there).

    Every subcommand takes --json: one JSON document on stdout, and an error as one JSON
    document on stderr with the same exit code. Shell completion: see docs/cli.md
    (_GUARDRAILS_COMPLETE).
    """
    ctx.obj = Options(config_path=find_cdk_json(config_path, app_dir), profile=profile, debug=debug)


def _register() -> None:
    from guardrails.cli.abort_command import abort
    from guardrails.cli.judge_command import judge
    from guardrails.cli.plan_command import plan
    from guardrails.cli.rollback_command import rollback
    from guardrails.cli.simulate_command import simulate
    from guardrails.cli.start_command import start
    from guardrails.cli.status_command import history, status
    from guardrails.cli.unlock_command import unlock

    for command in (plan, judge, simulate, start, status, history, abort, rollback, unlock):
        cli.add_command(command)


_register()


def main() -> None:
    """Console entry point (`guardrails`, `python -m guardrails`)."""
    cli(prog_name=PROG_NAME)


__all__ = ["Options", "cli", "main"]
