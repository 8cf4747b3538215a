"""Released artifacts: the only place endpoints load models from, written only by the approval step.

A dedicated bucket in the pipeline host's stateful stack: KMS-encrypted with a key of its own,
versioned, with S3 Object Lock (governance-mode default retention, so no version can be deleted
or overwritten in place during it; no role of the app may bypass governance), SSL-only and
access-logged. Its policy denies every object write, delete and retention or legal-hold change
to every principal except the approval step's role, which lives here so the policy can name it
(the pipeline stack, which runs the approval function with it, depends on this stack). Only
object-level actions are denied: CloudFormation keeps managing the bucket itself (its policy,
encryption, lock configuration), so no deploy can lock itself out.
"""

from __future__ import annotations

import aws_cdk as cdk
import aws_cdk.aws_iam as iam
import aws_cdk.aws_kms as kms
import aws_cdk.aws_s3 as s3
from constructs import Construct

from guardrails.release.record import MODELS_PREFIX, TEST_DATA_PREFIX
from infra.environment.storage import encrypted_bucket

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
        access_log_bucket: s3.IBucket,
        retention: cdk.Duration,
    ) -> None:
        super().__init__(scope, id_)
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

    def grant_read_models(self, grantee: iam.IGrantable) -> None:
        """Let `grantee` read released models and their checksums (HeadObject needs Decrypt)."""
        iam.Grant.add_to_principal(
            grantee=grantee, actions=["s3:GetObject"], resource_arns=[self.models()]
        )
        iam.Grant.add_to_principal(
            grantee=grantee, actions=["kms:Decrypt"], resource_arns=[self.key.key_arn]
        )
