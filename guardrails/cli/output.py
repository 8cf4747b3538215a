"""`--json` on every subcommand: one JSON document on stdout, nothing else there."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])

JSON_HELP = "Print one JSON document on stdout; errors become JSON on stderr (same exit code)."


def json_option(command: F) -> F:
    """The `--json` flag, passed to the command as `as_json`."""
    return click.option("--json", "as_json", is_flag=True, help=JSON_HELP)(command)


def print_json(document: Any) -> None:
    """The command's one JSON document (datetimes and other odd values as text)."""
    click.echo(json.dumps(document, indent=2, default=str))


def say(as_json: bool, text: str) -> None:
    """A line for people: stdout normally, stderr under --json so stdout stays one document."""
    click.echo(text, err=as_json)
