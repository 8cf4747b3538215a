"""Stateful resources of one environment: key, bucket, registry, repository, topic, table."""

from __future__ import annotations

import aws_cdk as cdk
from constructs import Construct

from infra.config import EnvironmentConfig
from infra.environment.deployment_table import DeploymentTable
from infra.environment.model_role import ModelExecutionRole
from infra.environment.notifications import OnCallTopic
from infra.environment.registry import ModelRegistry
from infra.environment.source import SourceRepository
from infra.environment.storage import EncryptedStorage
from infra.nag import acknowledge


class StatefulStack(cdk.Stack):
    """What must survive redeploys; retained and termination-protected in production."""

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        config: EnvironmentConfig,
        source_repository_name: str | None,
        **kwargs,
    ) -> None:
        super().__init__(scope, id_, termination_protection=config.production, **kwargs)
        retain = config.production

        storage = EncryptedStorage(self, "Storage", retain=retain)
        self.key = storage.key
        self.bucket = storage.bucket
        acknowledge(
            storage.access_log_bucket,
            "AwsSolutions-S1",
            "This is the access-log bucket itself; logging it to itself would loop.",
        )

        self.model_role = ModelExecutionRole(
            self,
            "ModelExecution",
            endpoint_name=config.endpoint_name,
            bucket=self.bucket,
            key=self.key,
        ).role

        registry = ModelRegistry(
            self, "Registry", group_name=f"guardrails-{config.name}", retain=retain
        )
        self.model_package_group = registry

        self.repository = None
        if source_repository_name:
            self.repository = SourceRepository(
                self, "Source", repository_name=source_repository_name, retain=retain
            ).repository

        self.topic = OnCallTopic(
            self, "OnCall", key=self.key, emails=config.notification_emails, retain=retain
        ).topic
        self.table = DeploymentTable(self, "Deployments", key=self.key, retain=retain).table

        cdk.CfnOutput(self, "ArtifactBucketName", value=self.bucket.bucket_name)
        cdk.CfnOutput(self, "ModelPackageGroupName", value=registry.group_name)
        cdk.CfnOutput(self, "OnCallTopicArn", value=self.topic.topic_arn)
        cdk.CfnOutput(self, "DeploymentTableName", value=self.table.table_name)
