"""The environments the CLI operates on, read from cdk.json exactly as app.py reads them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from guardrails.cli.errors import InputError
from infra.config import AppConfig, ConfigError, EnvironmentConfig, default_config

# The checkout the package was installed from (pip install -e .), where cdk.json lives.
DEFAULT_CDK_JSON = Path(__file__).resolve().parents[2] / "cdk.json"
CONFIG_ENV_VAR = "GUARDRAILS_CDK_JSON"
ENVIRONMENTS_CONTEXT_KEY = "guardrails:environments"
PIPELINE_CONTEXT_KEY = "guardrails:pipeline"


def _context_mapping(context: dict[str, Any], key: str) -> dict[str, Any]:
    """An object in cdk.json's context, or a JSON string holding one (as `-c` would give)."""
    raw = context.get(key) or {}
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError as error:
            raise InputError(f"{key}: not valid JSON ({error.msg})") from None
    if not isinstance(raw, dict):
        raise InputError(f"{key}: must be a JSON object of settings")
    return raw


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
        return default_config(
            _context_mapping(context, ENVIRONMENTS_CONTEXT_KEY),
            _context_mapping(context, PIPELINE_CONTEXT_KEY),
        )
    except ConfigError as error:
        raise InputError(str(error)) from None


def load_environment(path: Path | None, name: str) -> EnvironmentConfig:
    """One environment's config, or an InputError listing the known names."""
    try:
        return load_config(path).environment(name)
    except ConfigError as error:
        raise InputError(str(error)) from None
