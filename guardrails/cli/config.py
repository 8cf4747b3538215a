"""The environments the CLI operates on, read from cdk.json exactly as app.py reads them."""

from __future__ import annotations

import json
from pathlib import Path

from guardrails.cli.errors import InputError
from guardrails.config import AppConfig, ConfigError, EnvironmentConfig, config_from_context

# The checkout the package was installed from (pip install -e .), where cdk.json lives.
DEFAULT_CDK_JSON = Path(__file__).resolve().parents[2] / "cdk.json"
CONFIG_ENV_VAR = "GUARDRAILS_CDK_JSON"


def load_config(path: Path | None = None) -> AppConfig:
    """Every environment's validated config from a cdk.json (default: the checkout's)."""
    path = path or DEFAULT_CDK_JSON
    try:
        document = json.loads(path.read_text())
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
    """One environment's config, or an InputError listing the known names."""
    try:
        return load_config(path).environment(name)
    except ConfigError as error:
        raise InputError(str(error)) from None
