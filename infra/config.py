"""The app's configuration: one validated config per environment, plus the pipeline's.

The CDK app and its constructs import their settings from here. The classes are defined in
guardrails/config.py (pure: no CDK), because the operator CLI, installed without the CDK app,
reads the same cdk.json with the same checks; the settings the rollout Lambdas also read are
defined once in guardrails/rollout/settings.py.
"""

from guardrails.config import (
    ENVIRONMENTS_CONTEXT_KEY,
    NATIVE_STRATEGIES,
    PIPELINE_CONTEXT_KEY,
    SOURCE_KINDS,
    STRATEGIES,
    AppConfig,
    ConfigError,
    DeploymentSettings,
    EndpointSettings,
    EnvironmentConfig,
    JudgeSettings,
    PipelineSettings,
    config_from_context,
    default_config,
)

__all__ = [
    "ENVIRONMENTS_CONTEXT_KEY",
    "NATIVE_STRATEGIES",
    "PIPELINE_CONTEXT_KEY",
    "SOURCE_KINDS",
    "STRATEGIES",
    "AppConfig",
    "ConfigError",
    "DeploymentSettings",
    "EndpointSettings",
    "EnvironmentConfig",
    "JudgeSettings",
    "PipelineSettings",
    "config_from_context",
    "default_config",
]
