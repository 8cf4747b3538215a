"""Stateful resources of one environment: key, buckets, registry, repository, topic, table, and
the serving-model parameter."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import aws_cdk as cdk
from constructs import Construct

from guardrails.validation import ConfigError
from infra.config import EnvironmentConfig
from infra.environment.deployment_table import DeploymentTable
from infra.environment.identities import MODEL_ROLE, Placement, model_package_group_name
from infra.environment.model_role import ModelExecutionRole
from infra.environment.notifications import OnCallTopic
from infra.environment.registry import ModelRegistry
from infra.environment.released_artifacts import ReleasedArtifacts, ReleasedModels
from infra.environment.serving_model import ServingModelParameter
from infra.environment.source import SourceRepository
from infra.environment.storage import EncryptedStorage, PipelineArtifactStore
from infra.nag import acknowledge


@dataclass(frozen=True)
class PipelineHosting:
    """What the pipeline's host environment keeps beside its own resources."""

    release_retention_days: int  # Object Lock governance retention of released artifacts
    source_repository_name: str | None  # the CodeCommit repository, when that is the source
    readers: Sequence[EnvironmentConfig] = ()  # environments in other accounts: they read releases


class StatefulStack(cdk.Stack):
    """What must survive redeploys; retained and termination-protected in production.

    The pipeline's host environment (the tooling account) also keeps the pipeline's registry
    group, its artifact store and the released artifacts every environment's endpoints load
    models from (`hosting`), shared with the environments in other accounts. Every environment
    reaches the host's released models by derived names (`released`), never by export.
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        config: EnvironmentConfig,
        pipeline_host: EnvironmentConfig,
        hosting: PipelineHosting | None = None,
        **kwargs,
    ) -> None:
        super().__init__(scope, id_, termination_protection=config.production, **kwargs)
        if (hosting is None) == (config.name == pipeline_host.name):
            raise ValueError("the pipeline host's stateful stack, and only it, hosts the pipeline")
        retain = config.production

        storage = EncryptedStorage(self, "Storage", retain=retain)
        self.key = storage.key
        self.bucket = storage.bucket
        acknowledge(
            storage.access_log_bucket,
            "AwsSolutions-S1",
            "This is the access-log bucket itself; logging it to itself would loop.",
        )

        readers = [Placement.of(self, env) for env in (hosting.readers if hosting else ())]
        registry = ModelRegistry(
            self,
            "Registry",
            group_name=model_package_group_name(config),
            retain=retain,
            readers=readers,
        )
        self.model_package_group = registry
        self.released = ReleasedModels(self, host=pipeline_host)
        self.pipeline_group_name = self.released.model_package_group_name

        self.repository = None
        self.pipeline_artifacts = None
        self.released_artifacts = None
        if hosting is not None:
            self.released_artifacts = ReleasedArtifacts(
                self,
                "ReleasedArtifacts",
                bucket_name=self.released.bucket_name,
                access_log_bucket=storage.access_log_bucket,
                retention=cdk.Duration.days(hosting.release_retention_days),
            )
            self.released_artifacts.allow_readers(readers)
            self.pipeline_artifacts = PipelineArtifactStore(
                self,
                "PipelineArtifacts",
                key=self.key,
                access_log_bucket=storage.access_log_bucket,
                retain=retain,
            ).bucket
            if hosting.source_repository_name:
                self.repository = SourceRepository(
                    self, "Source", repository_name=hosting.source_repository_name, retain=retain
                ).repository

        try:
            self.model_role = ModelExecutionRole(
                self,
                "ModelExecution",
                endpoint_name=config.endpoint_name,
                role_name=Placement.of(self, config).role_name(MODEL_ROLE),
                bucket=self.bucket,
                key=self.key,
                released=self.released,
            ).role
        except ConfigError as error:
            raise error.within(f"environments.{config.name}") from None

        self.topic = OnCallTopic(
            self, "OnCall", key=self.key, emails=config.notification_emails, retain=retain
        ).topic
        self.table = DeploymentTable(self, "Deployments", key=self.key, retain=retain).table
        # What serves: written by the rollout, read by the endpoint stack (never rewritten by
        # CloudFormation while its properties stay as they are: see the construct).
        self.serving_model = ServingModelParameter(
            self, "ServingModel", environment=config.name, retain=retain
        )

        cdk.CfnOutput(self, "ArtifactBucketName", value=self.bucket.bucket_name)
        cdk.CfnOutput(self, "ModelPackageGroupName", value=registry.group_name)
        cdk.CfnOutput(self, "OnCallTopicArn", value=self.topic.topic_arn)
        cdk.CfnOutput(self, "DeploymentTableName", value=self.table.table_name)
        cdk.CfnOutput(
            self, "ServingModelParameterName", value=self.serving_model.parameter_name
        )
        if self.released_artifacts is not None:
            cdk.CfnOutput(
                self,
                "ReleasedArtifactsBucketName",
                value=self.released_artifacts.bucket.bucket_name,
            )
