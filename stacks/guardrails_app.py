"""Builds every stack of the selected environments into an app."""

from __future__ import annotations

from dataclasses import dataclass

import aws_cdk as cdk

from infra.config import AppConfig, EnvironmentConfig
from stacks.endpoint_stack import EndpointStack
from stacks.monitoring_stack import MonitoringStack
from stacks.rollout_stack import RolloutStack
from stacks.stateful_stack import StatefulStack

SOURCE_REPOSITORY_NAME = "guardrails-models"


@dataclass(frozen=True)
class EnvironmentStacks:
    """The stacks of one environment, for tests and later wiring."""

    stateful: StatefulStack
    endpoint: EndpointStack
    monitoring: MonitoringStack
    rollout: RolloutStack


def stack_name(env: EnvironmentConfig, part: str) -> str:
    """Stable stack name, e.g. Guardrails-prod-Endpoint."""
    return f"Guardrails-{env.name}-{part}"


def build_environment(app: cdk.App, config: AppConfig, env: EnvironmentConfig) -> EnvironmentStacks:
    """Stateful, endpoint and monitoring stacks of one environment."""
    aws_env = (
        None
        if env.is_environment_agnostic
        else cdk.Environment(account=env.account, region=env.region)
    )
    hosts_source = (
        config.pipeline.host_environment == env.name and config.pipeline.source == "codecommit"
    )
    stateful = StatefulStack(
        app,
        stack_name(env, "Stateful"),
        config=env,
        source_repository_name=SOURCE_REPOSITORY_NAME if hosts_source else None,
        env=aws_env,
        description=f"Guardrails {env.name}: key, artifact bucket, model registry, on-call topic, "
        "deployment records",
    )
    endpoint = EndpointStack(
        app,
        stack_name(env, "Endpoint"),
        config=env,
        stateful=stateful,
        env=aws_env,
        description=f"Guardrails {env.name}: SageMaker endpoint with deployment guardrails",
    )
    monitoring = MonitoringStack(
        app,
        stack_name(env, "Monitoring"),
        config=env,
        stateful=stateful,
        env=aws_env,
        description=f"Guardrails {env.name}: dashboard and deployment notifications",
    )
    rollout = RolloutStack(
        app,
        stack_name(env, "Rollout"),
        config=env,
        stateful=stateful,
        endpoint=endpoint,
        env=aws_env,
        description=f"Guardrails {env.name}: guarded rollout state machine (judge, promote, "
        "roll back)",
    )
    for stack in (stateful, endpoint, monitoring, rollout):
        cdk.Tags.of(stack).add("project", "sagemaker-deployment-guardrails")
        cdk.Tags.of(stack).add("environment", env.name)
    return EnvironmentStacks(
        stateful=stateful, endpoint=endpoint, monitoring=monitoring, rollout=rollout
    )


def build_app(
    app: cdk.App, config: AppConfig, selected: tuple[EnvironmentConfig, ...]
) -> dict[str, EnvironmentStacks]:
    """All stacks of the selected environments."""
    return {env.name: build_environment(app, config, env) for env in selected}
