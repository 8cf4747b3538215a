"""Which cdk.json the CLI reads, and the environments in it, read exactly as app.py reads them.

The cdk.json is, in this order: `--config FILE` (or GUARDRAILS_CDK_JSON); `--app-dir DIR`
(or GUARDRAILS_APP_DIR), which must hold one; else the first cdk.json with `guardrails:`
settings in the current directory or one of its parents. Without one, the commands that only
talk to AWS use the shipped defaults and find the rest in the deployed stacks.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
from click.shell_completion import CompletionItem

from guardrails.cli.errors import InputError
from guardrails.config import (
    AppConfig,
    ConfigError,
    EnvironmentConfig,
    config_from_context,
)

CONFIG_ENV_VAR = "GUARDRAILS_CDK_JSON"
APP_DIR_ENV_VAR = "GUARDRAILS_APP_DIR"
CONTEXT_PREFIX = "guardrails:"
NOT_FOUND = (
    "config: no cdk.json with guardrails settings in {cwd} or its parents: run from the app's "
    f"checkout, pass --app-dir DIR or set {APP_DIR_ENV_VAR}"
)


def find_cdk_json(
    config_path: Path | None, app_dir: Path | None, cwd: Path | None = None
) -> Path | None:
    """The cdk.json to read, or None when there is none to find."""
    if config_path is not None:
        return config_path
    if app_dir is not None:
        path = app_dir / "cdk.json"
        if not path.is_file():
            raise InputError(f"--app-dir: {app_dir} has no cdk.json")
        return path
    start = (cwd or Path.cwd()).resolve()
    for directory in (start, *start.parents):
        candidate = directory / "cdk.json"
        if candidate.is_file() and _has_guardrails_settings(candidate):
            return candidate
    return None


def _has_guardrails_settings(path: Path) -> bool:
    """Another CDK app's cdk.json is passed over, not read as ours with every default."""
    try:
        context = json.loads(path.read_text()).get("context")
    except (OSError, ValueError, AttributeError):
        return True  # ours or not, reading it reports what is wrong with it
    return isinstance(context, dict) and any(str(k).startswith(CONTEXT_PREFIX) for k in context)


def load_config(path: Path) -> AppConfig:
    """Every environment's validated config from a cdk.json."""
    try:
        document: Any = json.loads(path.read_text())
    except OSError as error:
        raise InputError(f"config: cannot read {path} ({error.strerror})") from None
    except json.JSONDecodeError as error:
        raise InputError(
            f"config: {path} is not valid JSON (line {error.lineno} column {error.colno}: "
            f"{error.msg})"
        ) from None
    context = document.get("context") if isinstance(document, dict) else None
    if not isinstance(context, dict):
        raise InputError(f'config: {path} has no "context" object')
    try:
        return config_from_context(context.get)
    except ConfigError as error:
        raise InputError(str(error)) from None


def load_environment(path: Path | None, name: str) -> EnvironmentConfig:
    """One environment's settings from the cdk.json; an InputError when there is none."""
    if path is None:
        raise InputError(NOT_FOUND.format(cwd=Path.cwd()))
    return _environment(load_config(path), name)


def deployed_environment(path: Path | None, name: str) -> EnvironmentConfig:
    """For commands that only talk to AWS: the cdk.json's environment, else one known only by
    name (no account to check, the AWS profile's region, names from the deployed stacks)."""
    if path is not None:
        return load_environment(path, name)
    try:
        return EnvironmentConfig(name=name)
    except ConfigError as error:
        raise InputError(f"--env: {error.rule}") from None


def _environment(config: AppConfig, name: str) -> EnvironmentConfig:
    try:
        return config.environment(name)
    except ConfigError as error:
        raise InputError(str(error)) from None


F = TypeVar("F", bound=Callable[..., Any])


def env_option(help_text: str, *, required: bool = True) -> Callable[[F], F]:
    """`--env NAME`, passed as `env_name`; the shell completes the names in the cdk.json."""
    return click.option(
        "--env",
        "env_name",
        required=required,
        help=help_text,
        shell_complete=_complete_environments,
    )


def _complete_environments(
    ctx: click.Context, param: click.Parameter, incomplete: str
) -> list[CompletionItem]:
    root = ctx.find_root().params
    try:
        path = find_cdk_json(root.get("config_path"), root.get("app_dir"))
        names = [env.name for env in load_config(path).environments] if path else []
    except InputError:
        names = []
    return [CompletionItem(name) for name in names if name.startswith(incomplete)]
