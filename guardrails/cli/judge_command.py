"""`guardrails judge`: what the judge says about a request file or a CloudWatch export."""

from __future__ import annotations

import json
from typing import IO, Any

import click

from guardrails.cli import render
from guardrails.cli.cloudwatch_export import ExportError, build_request
from guardrails.cli.errors import EXIT_FAILED, InputError
from guardrails.cli.output import json_option, print_json
from guardrails.judge import JudgeInputError, evaluate


@click.command()
@click.argument("request_file", metavar="[FILE]", type=click.File("r"), required=False)
@click.option(
    "--cloudwatch-export",
    type=click.File("r"),
    help="Output of `aws cloudwatch get-metric-data` (instead of FILE).",
)
@click.option(
    "--mapping",
    type=click.File("r"),
    help="Which export Ids make up each judge metric (required with --cloudwatch-export).",
)
@json_option
@click.pass_context
def judge(
    ctx: click.Context,
    request_file: IO[str] | None,
    cloudwatch_export: IO[str] | None,
    mapping: IO[str] | None,
    as_json: bool,
) -> None:
    """Run the judge on a request FILE (- for stdin) or a CloudWatch export and a mapping.

    Prints a table per metric (estimate, always-valid interval, p-value, decision, reason).
    Exits 1 when the judge says rollback, 0 on continue or promote.
    """
    if (request_file is None) == (cloudwatch_export is None):
        raise InputError("FILE: give a judge request FILE or --cloudwatch-export with --mapping")
    if cloudwatch_export is not None and mapping is None:
        raise InputError("--mapping: required with --cloudwatch-export")
    if request_file is not None and mapping is not None:
        raise InputError("--mapping: only with --cloudwatch-export")
    try:
        if request_file is not None:
            request = _read_json(request_file)
        else:
            assert cloudwatch_export is not None and mapping is not None
            request = build_request(_read_json(cloudwatch_export), _read_json(mapping))
        response = evaluate(request)
    except (ExportError, JudgeInputError) as error:
        raise InputError(str(error)) from None

    if as_json:
        print_json(response)
    else:
        click.echo(format_response(response))
    if response["decision"] == "rollback":
        ctx.exit(EXIT_FAILED)


def _read_json(stream: IO[str]) -> Any:
    name = "stdin" if stream.name == "<stdin>" else stream.name
    try:
        return json.load(stream)
    except json.JSONDecodeError as error:
        raise InputError(
            f"{name}: not valid JSON (line {error.lineno} column {error.colno}: {error.msg})"
        ) from None
    except UnicodeDecodeError:
        raise InputError(f"{name}: not a text file") from None


def format_response(response: dict[str, Any]) -> str:
    """The decision, a table per metric and each metric's reason."""
    parts = [f"Decision: {response['decision'].upper()}"]
    if response["metrics"]:
        parts.append(render.judge_table(response["metrics"]))
        parts.append("\n".join(f"{m['name']}: {m['reason']}" for m in response["metrics"]))
    else:
        parts.append(response["reason"])
    return "\n\n".join(parts)
