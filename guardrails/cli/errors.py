"""The CLI's exit codes and its three kinds of failure, each shown as one line (or JSON)."""

from __future__ import annotations

import json
from typing import IO, Any

import click

EXIT_OK = 0
EXIT_FAILED = 1  # the judge said rollback, a rollout did not promote, a check failed, a refusal
EXIT_USAGE = 2  # bad arguments, config or input files
EXIT_OPERATIONAL = 3  # AWS or the machine said no: credentials, throttling, network, access

KINDS = {EXIT_FAILED: "failed", EXIT_USAGE: "usage", EXIT_OPERATIONAL: "operational"}


class InputError(click.ClickException):
    """Bad input (argument, config, file): the message starts with the field it concerns."""

    exit_code = EXIT_USAGE


class Failure(click.ClickException):
    """The command ran and the answer is no: a refusal, a failed check, a rollout not promoted."""

    exit_code = EXIT_FAILED


class OperationalError(click.ClickException):
    """AWS or the environment stopped the command: credentials, access, throttling, network,
    a stack or endpoint that is not there. Retrying later, or elsewhere, may work."""

    exit_code = EXIT_OPERATIONAL


class JsonError(click.ClickException):
    """Any of the above for a `--json` caller: one JSON document on stderr, same exit code."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code

    def show(self, file: IO[Any] | None = None) -> None:
        click.echo(json.dumps(error_document(self.message, self.exit_code)), file=file, err=True)


def error_document(message: str, exit_code: int) -> dict[str, Any]:
    """What a `--json` caller reads on stderr when a command fails."""
    return {
        "error": {
            "message": message,
            "exit_code": exit_code,
            "kind": KINDS.get(exit_code, "failed"),
        }
    }
