#!/usr/bin/env python3
"""CDK entry point: the only place that reads context, picks environments and applies cdk-nag."""

from __future__ import annotations

import json
import sys
from typing import Any

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks

from infra.config import AppConfig, ConfigError, default_config
from stacks.guardrails_app import build_app
from stacks.pipeline_stack import build_pipeline, required_environments

ENVIRONMENTS_CONTEXT_KEY = "guardrails:environments"
PIPELINE_CONTEXT_KEY = "guardrails:pipeline"


def _context_mapping(app: cdk.App, key: str) -> dict[str, Any]:
    """A settings mapping from context: an object in cdk.json, or a JSON string given with -c."""
    raw = app.node.try_get_context(key) or {}
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError as error:
            raise ConfigError(f"{key}: not valid JSON ({error.msg})") from error
    if not isinstance(raw, dict):
        raise ConfigError(f"{key}: must be a JSON object of settings")
    return raw


def _selected_names(app: cdk.App) -> list[str]:
    """`-c env=NAME` or `-c envs=a,b`; nothing selects every environment."""
    value = app.node.try_get_context("envs") or app.node.try_get_context("env") or ""
    return [name.strip() for name in str(value).split(",") if name.strip()]


def main() -> None:
    app = cdk.App()
    try:
        config: AppConfig = default_config(
            _context_mapping(app, ENVIRONMENTS_CONTEXT_KEY),
            _context_mapping(app, PIPELINE_CONTEXT_KEY),
        )
        selected = config.select(_selected_names(app))
        stacks = build_app(app, config, selected)
        # The pipeline spans environments: it is built when all it deploys to are selected.
        if all(name in stacks for name in required_environments(config)):
            connection_arn = app.node.try_get_context(config.pipeline.connection_arn_context_key)
            build_pipeline(app, config, stacks, connection_arn)
    except ConfigError as error:
        print(f"Configuration error: {error}", file=sys.stderr)
        sys.exit(1)
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(verbose=True))
    app.synth()


if __name__ == "__main__":
    main()
