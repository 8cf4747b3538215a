"""Stateful resources of one environment: key, buckets, registry, repository, topic, table, and
the serving-model parameter."""

from __future__ import annotations

from dataclasses import dataclass

import aws_cdk as cdk
from constructs import Construct

from guardrails.validation import ConfigError
from infra.config import EnvironmentConfig
from infra.environment.deployment_table import DeploymentTable
from infra.environment.model_role import ModelExecutionRole
from infra.environment.notifications import OnCallTopic
from infra.environment.registry import ModelRegistry
from infra.environment.released_artifacts import ReleasedArtifacts
from infra.environment.serving_model import ServingModelParameter
from infra.environment.source import SourceRepository
from infra.environment.storage import EncryptedStorage, PipelineArtifactStore
from infra.nag import acknowledge


@dataclass(frozen=True)
class PipelineHosting:
    """What the pipeline's host environment keeps beside its own resources."""

    release_retention_days: int  # Object Lock governance retention of released artifacts
    source_repository_name: str | None  # the CodeCommit repository, when that is the source


class StatefulStack(cdk.Stack):
    """What must survive redeploys; retained and termination-protected in production.

    The pipeline's host environment also keeps the pipeline's registry group, its artifact
    store and the released artifacts every environment's endpoints load models from
    (`hosting`); the other environments are given the host's stack (`pipeline_host`).
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        config: EnvironmentConfig,
        hosting: PipelineHosting | None = None,
        pipeline_host: StatefulStack | None = None,
        **kwargs,
    ) -> None:
        super().__init__(scope, id_, termination_protection=config.production, **kwargs)
        if (hosting is None) == (pipeline_host is None):
            raise ValueError("a stateful stack either hosts the pipeline or is given the host's")
        retain = config.production

        storage = EncryptedStorage(self, "Storage", retain=retain)
        self.key = storage.key
        self.bucket = storage.bucket
        acknowledge(
            storage.access_log_bucket,
            "AwsSolutions-S1",
            "This is the access-log bucket itself; logging it to itself would loop.",
        )

        registry = ModelRegistry(
            self, "Registry", group_name=f"guardrails-{config.name}", retain=retain
        )
        self.model_package_group = registry

        self.repository = None
        self.pipeline_artifacts = None
        if hosting is not None:
            self.released = ReleasedArtifacts(
                self,
                "ReleasedArtifacts",
                access_log_bucket=storage.access_log_bucket,
                retention=cdk.Duration.days(hosting.release_retention_days),
            )
            self.pipeline_group_name = registry.group_name
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
        else:
            assert pipeline_host is not None
            self.released = pipeline_host.released
            self.pipeline_group_name = pipeline_host.pipeline_group_name

        try:
            self.model_role = ModelExecutionRole(
                self,
                "ModelExecution",
                endpoint_name=config.endpoint_name,
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
        if hosting is not None:
            cdk.CfnOutput(
                self, "ReleasedArtifactsBucketName", value=self.released.bucket.bucket_name
            )
