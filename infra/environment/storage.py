"""Encryption key, the artifact bucket (with its access-log bucket) and the pipeline's store."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
import aws_cdk.aws_iam as iam
import aws_cdk.aws_kms as kms
import aws_cdk.aws_s3 as s3
from constructs import Construct


def alarms_of_this_account(scope: Construct) -> dict[str, dict[str, str]]:
    """Conditions holding CloudWatch to acting for this account's alarms (confused deputy)."""
    stack = cdk.Stack.of(scope)
    alarms = stack.format_arn(
        service="cloudwatch",
        resource="alarm",
        resource_name="*",
        arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
    )
    return {
        "StringEquals": {"aws:SourceAccount": stack.account},
        "ArnLike": {"aws:SourceArn": alarms},
    }


def encrypted_bucket(
    scope: Construct,
    id_: str,
    *,
    key: kms.IKey,
    access_log_bucket: s3.IBucket,
    log_prefix: str,
    removal: cdk.RemovalPolicy,
    **props: Any,
) -> s3.Bucket:
    """A versioned, SSL-only, private bucket, KMS-encrypted with `key`, access-logged."""
    return s3.Bucket(
        scope,
        id_,
        encryption=s3.BucketEncryption.KMS,
        encryption_key=key,
        bucket_key_enabled=True,
        block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
        enforce_ssl=True,
        versioned=True,
        server_access_logs_bucket=access_log_bucket,
        server_access_logs_prefix=log_prefix,
        removal_policy=removal,
        **props,
    )


class EncryptedStorage(Construct):
    """A customer-managed KMS key and the versioned, SSL-only, KMS-encrypted artifact bucket."""

    def __init__(self, scope: Construct, id_: str, *, retain: bool) -> None:
        super().__init__(scope, id_)
        removal = cdk.RemovalPolicy.RETAIN if retain else cdk.RemovalPolicy.DESTROY

        self.key = kms.Key(
            self,
            "Key",
            description="Guardrails: artifacts, models, topics and deployment records",
            enable_key_rotation=True,
            removal_policy=removal,
        )
        # CloudWatch alarms publish to the encrypted on-call topic, on behalf of this account's
        # alarms only. EventBridge rules publish with a role of their own (IAM, not this policy).
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                resources=["*"],
                conditions=alarms_of_this_account(self),
            )
        )

        # S3 server access logs cannot be delivered to a KMS-encrypted bucket: SSE-S3 here.
        self.access_log_bucket = s3.Bucket(
            self,
            "AccessLogBucket",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            versioned=True,
            removal_policy=removal,
            auto_delete_objects=False,
            lifecycle_rules=[s3.LifecycleRule(expiration=cdk.Duration.days(365))],
        )
        self.bucket = encrypted_bucket(
            self,
            "ArtifactBucket",
            key=self.key,
            access_log_bucket=self.access_log_bucket,
            log_prefix="artifact-bucket/",
            removal=removal,
            lifecycle_rules=[
                s3.LifecycleRule(noncurrent_version_expiration=cdk.Duration.days(90)),
            ],
        )


class PipelineArtifactStore(Construct):
    """CodePipeline's artifact store, apart from the buckets models are read from.

    CodePipeline and its actions' roles may read and write anywhere in their store; giving them
    a bucket of their own keeps every pipeline and build role away from where models live.
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        key: kms.IKey,
        access_log_bucket: s3.IBucket,
        retain: bool,
    ) -> None:
        super().__init__(scope, id_)
        self.bucket = encrypted_bucket(
            self,
            "Bucket",
            key=key,
            access_log_bucket=access_log_bucket,
            log_prefix="pipeline-artifacts/",
            removal=cdk.RemovalPolicy.RETAIN if retain else cdk.RemovalPolicy.DESTROY,
            lifecycle_rules=[
                s3.LifecycleRule(
                    expiration=cdk.Duration.days(90),
                    noncurrent_version_expiration=cdk.Duration.days(30),
                ),
            ],
        )
