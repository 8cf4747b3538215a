"""The CLI's two kinds of failure, each shown as one `Error: ...` line with a fixed exit code."""

from __future__ import annotations

import click

EXIT_OK = 0
EXIT_FAILED = 1  # the judge said rollback, a check failed, a rollback was refused
EXIT_USAGE = 2  # bad arguments, config or input files


class InputError(click.ClickException):
    """Bad input (argument, config, file): the message starts with the field it concerns."""

    exit_code = EXIT_USAGE


class Failure(click.ClickException):
    """The command ran but could not do its job (AWS said no, a check failed, a refusal)."""

    exit_code = EXIT_FAILED
