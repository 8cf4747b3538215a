"""Released artifacts: the only place endpoints load models from, written only by the approval step.

A dedicated bucket in the pipeline host's stateful stack: KMS-encrypted with a key of its own,
versioned, with S3 Object Lock (governance-mode default retention, so no version can be deleted
or overwritten in place during it; no role of the app may bypass governance), SSL-only and
access-logged. Its policy denies every object write, delete and retention or legal-hold change
to every principal except the approval step's role, which lives here so the policy can name it
(the pipeline stack, which runs the approval function with it, depends on this stack). Only
object-level actions are denied: CloudFormation keeps managing the bucket itself (its policy,
encryption, lock configuration), so no deploy can lock itself out.

Every environment reads released models by derived names (`ReleasedModels`), whatever account it
is in: the bucket is named after the host's account and region, and the key is reached through
S3 only, by the bucket's encryption context. Environments in other accounts are let in by the
bucket's and the key's policies (`ReleasedArtifacts.allow_readers`), each account held by
`aws:PrincipalArn` to the roles that load or check models.
"""

from __future__ import annotations

from collections.abc import Sequence

import aws_cdk as cdk
import aws_cdk.aws_iam as iam
import aws_cdk.aws_kms as kms
import aws_cdk.aws_s3 as s3
from constructs import Construct

from guardrails.release.record import MODELS_PREFIX, TEST_DATA_PREFIX
from infra.config import EnvironmentConfig
from infra.environment.identities import (
    Placement,
    model_package_group_name,
    released_bucket_name,
)
from infra.environment.storage import encrypted_bucket
from infra.nag import acknowledge_wildcards

# Every object-level action that writes, replaces, deletes or unlocks a version.
OBJECT_WRITE_ACTIONS = (
    "s3:PutObject",
    "s3:PutObjectAcl",
    "s3:PutObjectVersionAcl",
    "s3:PutObjectRetention",
    "s3:PutObjectLegalHold",
    "s3:BypassGovernanceRetention",
    "s3:DeleteObject",
    "s3:DeleteObjectVersion",
    "s3:RestoreObject",
)


class ReleasedArtifacts(Construct):
    """The released-artifacts bucket, its key, and the approval step's role: its only writer."""

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        bucket_name: str,
        access_log_bucket: s3.IBucket,
        retention: cdk.Duration,
    ) -> None:
        super().__init__(scope, id_)
        self._region = cdk.Stack.of(self).region
        # What serves in production: kept whatever happens to the stack.
        keep = cdk.RemovalPolicy.RETAIN
        self.key = kms.Key(
            self,
            "Key",
            description="Guardrails: released model artifacts and test data",
            enable_key_rotation=True,
            removal_policy=keep,
        )
        self.writer_role = iam.Role(
            self,
            "ApprovalRole",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="Guardrails approval step (MarkApproved): the only writer of released "
            "artifacts and the only principal that sets model packages Approved",
        )
        self.bucket = encrypted_bucket(
            self,
            "Bucket",
            bucket_name=bucket_name,
            key=self.key,
            access_log_bucket=access_log_bucket,
            log_prefix="released-artifacts/",
            removal=keep,
            object_lock_enabled=True,
            object_lock_default_retention=s3.ObjectLockRetention.governance(retention),
        )
        self.bucket.add_to_resource_policy(
            iam.PolicyStatement(
                sid="OnlyTheApprovalStepWritesObjects",
                effect=iam.Effect.DENY,
                principals=[iam.AnyPrincipal()],
                actions=list(OBJECT_WRITE_ACTIONS),
                resources=[self.bucket.arn_for_objects("*")],
                conditions={"ArnNotEquals": {"aws:PrincipalArn": self.writer_role.role_arn}},
            )
        )

    def models(self) -> str:
        """The ARN pattern of the released models (what endpoints load)."""
        return self.bucket.arn_for_objects(f"{MODELS_PREFIX}/*")

    def test_data(self) -> str:
        """The ARN pattern of the released test data (what the replay scores)."""
        return self.bucket.arn_for_objects(f"{TEST_DATA_PREFIX}/*")

    def grant_write(self, grantee: iam.IGrantable) -> None:
        """Let the approval step put released models and test data (new versions only)."""
        iam.Grant.add_to_principal(
            grantee=grantee,
            actions=["s3:PutObject"],
            resource_arns=[self.models(), self.test_data()],
        )
        iam.Grant.add_to_principal(
            grantee=grantee,
            actions=["kms:GenerateDataKey", "kms:Decrypt"],
            resource_arns=[self.key.key_arn],
        )

    def allow_readers(self, readers: Sequence[Placement]) -> None:
        """Let environments in other accounts load and check released models.

        A cross-account read needs the bucket's and the key's policies as well as the reader's
        own IAM policy (within the host's account IAM alone decides). Each account is the
        principal, held by `aws:PrincipalArn` to its model role and rollout steps (conditions,
        not role principals: the roles need not exist yet, and a recreated role is still
        named); the key decrypts for them only through S3.
        """
        for reader in readers:
            sid = reader.name.capitalize()
            readers_only = {"ArnEquals": {"aws:PrincipalArn": list(reader.release_readers)}}
            self.bucket.add_to_resource_policy(
                iam.PolicyStatement(
                    sid=f"{sid}LoadsReleasedModels",
                    principals=[iam.AccountPrincipal(reader.account)],
                    actions=["s3:GetObject"],
                    resources=[self.models()],
                    conditions=readers_only,
                )
            )
            self.key.add_to_resource_policy(
                iam.PolicyStatement(
                    sid=f"{sid}DecryptsReleasedModelsThroughS3",
                    principals=[iam.AccountPrincipal(reader.account)],
                    actions=["kms:Decrypt"],
                    resources=["*"],
                    conditions={
                        **readers_only,
                        "StringEquals": {"kms:ViaService": f"s3.{self._region}.amazonaws.com"},
                    },
                )
            )


class ReleasedModels:
    """The pipeline host's released models and registry group, as any environment reads them.

    By derived names, since the host may be another account, whose exports cannot be imported;
    the same in the host's own account, so there is one way to reach them.
    """

    def __init__(self, scope: Construct, *, host: EnvironmentConfig) -> None:
        self._host = Placement.of(scope, host)
        self.bucket_name = released_bucket_name(self._host)
        self.bucket_arn = f"arn:{self._host.partition}:s3:::{self.bucket_name}"
        self.model_package_group_name = model_package_group_name(host)

    def models(self) -> str:
        """The ARN pattern of the released models (what endpoints load)."""
        return f"{self.bucket_arn}/{MODELS_PREFIX}/*"

    def test_data(self) -> str:
        """The ARN pattern of the released test data (what the replay scores)."""
        return f"{self.bucket_arn}/{TEST_DATA_PREFIX}/*"

    def model_packages(self) -> str:
        """The ARN pattern of the pipeline group's model package versions."""
        host = self._host
        return (
            f"arn:{host.partition}:sagemaker:{host.region}:{host.account}:model-package/"
            f"{self.model_package_group_name.lower()}/*"
        )

    def grant_read_models(self, role: iam.IRole) -> None:
        """Let `role` read released models and their checksums (HeadObject needs Decrypt)."""
        self._grant_read(role, self.models())

    def grant_read_test_data(self, role: iam.IRole) -> None:
        """Let `role` read released test data and its checksum (the replay)."""
        self._grant_read(role, self.test_data())

    def _grant_read(self, role: iam.IRole, objects: str) -> None:
        """`s3:GetObject` on `objects` and the Decrypt that needs.

        Decrypt is held to the released bucket's objects by their encryption context (with an
        S3 Bucket Key it is the bucket's ARN) and to requests through S3: the key's ARN is not
        derivable, and no other use of any of the host's keys is granted.
        """
        host = self._host
        keys = f"arn:{host.partition}:kms:{host.region}:{host.account}:key/*"
        iam.Grant.add_to_principal(
            grantee=role, actions=["s3:GetObject"], resource_arns=[objects]
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["kms:Decrypt"],
                resources=[keys],
                conditions={
                    "StringEquals": {"kms:ViaService": f"s3.{host.region}.amazonaws.com"},
                    "StringLike": {
                        "kms:EncryptionContext:aws:s3:arn": [
                            self.bucket_arn,
                            f"{self.bucket_arn}/*",
                        ]
                    },
                },
            )
        )
        acknowledge_wildcards(
            role,
            "Released artifacts are decrypted with the released bucket's key, whose ARN another "
            "account cannot derive: any key of the pipeline host, only through S3 and only for "
            "objects of the released bucket (its encryption context).",
            resources=[keys],
        )
