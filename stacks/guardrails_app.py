"""Builds every stack of the selected environments into an app."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import aws_cdk as cdk

from infra.config import AppConfig, EnvironmentConfig
from stacks.endpoint_stack import EndpointStack
from stacks.monitoring_stack import MonitoringStack
from stacks.rollout_stack import RolloutStack
from stacks.stateful_stack import PipelineHosting, StatefulStack

SOURCE_REPOSITORY_NAME = "guardrails-models"
StackT = TypeVar("StackT", bound=cdk.Stack)


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


def aws_environment(env: EnvironmentConfig) -> cdk.Environment | None:
    """The account and region `env` deploys to; None keeps its stacks environment-agnostic."""
    if env.is_environment_agnostic:
        return None
    return cdk.Environment(account=env.account, region=env.region)


def tag(stack: cdk.Stack, environment_name: str) -> None:
    """The tags every Guardrails stack and its resources carry."""
    tags = {"project": "sagemaker-deployment-guardrails", "environment": environment_name}
    for key, value in tags.items():
        cdk.Tags.of(stack).add(key, value)
        # @aws-cdk/core:explicitStackTags: Tags.of() tags the resources, no longer the stack.
        stack.tags.set_tag(key, value)


def _stack(
    app: cdk.App,
    env: EnvironmentConfig,
    cls: Callable[..., StackT],
    part: str,
    description: str,
    **props: Any,
) -> StackT:
    """One stack of `env`: named, placed, described and tagged like the others."""
    built = cls(
        app,
        stack_name(env, part),
        config=env,
        env=aws_environment(env),
        description=f"Guardrails {env.name}: {description}",
        **props,
    )
    tag(built, env.name)
    return built


def build_pipeline_host(app: cdk.App, config: AppConfig) -> StatefulStack:
    """The stateful stack of the pipeline's host environment (the tooling account).

    It holds the released artifacts every environment's endpoints load models from, so it is
    built whichever environments are selected, and its policies let the environments in other
    accounts read them.
    """
    settings = config.pipeline
    host = config.environment(settings.host_environment)
    return _stack(
        app,
        host,
        StatefulStack,
        "Stateful",
        "key, buckets, model registry, released artifacts, on-call topic, deployment records",
        pipeline_host=host,
        hosting=PipelineHosting(
            release_retention_days=settings.release_retention_days,
            source_repository_name=(
                SOURCE_REPOSITORY_NAME if settings.source == "codecommit" else None
            ),
            readers=config.other_account_environments(),
        ),
    )


def build_environment(
    app: cdk.App, config: AppConfig, env: EnvironmentConfig, pipeline_host: StatefulStack
) -> EnvironmentStacks:
    """Stateful, endpoint, monitoring and rollout stacks of one environment."""

    def stack(cls: Callable[..., StackT], part: str, description: str, **props: Any) -> StackT:
        return _stack(app, env, cls, part, description, **props)

    host = config.environment(config.pipeline.host_environment)
    if env.name == host.name:
        stateful = pipeline_host
    else:
        stateful = stack(
            StatefulStack,
            "Stateful",
            "key, artifact bucket, model registry, on-call topic, deployment records",
            pipeline_host=host,
        )
    endpoint = stack(
        EndpointStack,
        "Endpoint",
        "SageMaker endpoint with deployment guardrails",
        stateful=stateful,
        termination_protection=env.production,
    )
    monitoring = stack(
        MonitoringStack,
        "Monitoring",
        "dashboard and deployment notifications",
        stateful=stateful,
    )
    rollout = stack(
        RolloutStack,
        "Rollout",
        "guarded rollout state machine (judge, promote, roll back)",
        stateful=stateful,
        endpoint=endpoint,
        deployed_by=host if env.name in config.pipeline.deploy_environments else None,
    )
    return EnvironmentStacks(
        stateful=stateful, endpoint=endpoint, monitoring=monitoring, rollout=rollout
    )


def build_app(
    app: cdk.App, config: AppConfig, selected: tuple[EnvironmentConfig, ...]
) -> dict[str, EnvironmentStacks]:
    """All stacks of the selected environments, and the pipeline host's stateful stack.

    ConfigError when the environments' accounts and regions cannot work together
    (AppConfig.check_accounts).
    """
    config.check_accounts()
    pipeline_host = build_pipeline_host(app, config)
    return {env.name: build_environment(app, config, env, pipeline_host) for env in selected}
