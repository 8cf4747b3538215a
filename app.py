#!/usr/bin/env python3
"""CDK entry point: the only place that reads context, picks environments and applies cdk-nag."""

from __future__ import annotations

import sys

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks

from infra.config import AppConfig, ConfigError, config_from_context
from stacks.guardrails_app import build_app
from stacks.pipeline_stack import build_pipeline


def _selected_names(app: cdk.App) -> list[str]:
    """`-c env=NAME` or `-c envs=a,b`; nothing selects every environment."""
    value = app.node.try_get_context("envs") or app.node.try_get_context("env") or ""
    return [name.strip() for name in str(value).split(",") if name.strip()]


def main() -> None:
    app = cdk.App()
    try:
        config: AppConfig = config_from_context(app.node.try_get_context)
        selected = config.select(_selected_names(app))
        stacks = build_app(app, config, selected)
        if config.builds_pipeline(selected):
            connection_arn = app.node.try_get_context(config.pipeline.connection_arn_context_key)
            build_pipeline(app, config, stacks, connection_arn)
    except ConfigError as error:
        # One line whatever the value held: a bad setting is a message, never a traceback.
        print(" ".join(f"Configuration error: {error}".splitlines()), file=sys.stderr)
        sys.exit(1)
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(verbose=True))
    app.synth()


if __name__ == "__main__":
    main()
