"""What the pipeline's constructs share of the host environment: one object, not eight arguments."""

from __future__ import annotations

from dataclasses import dataclass

import aws_cdk.aws_dynamodb as dynamodb
import aws_cdk.aws_kms as kms
import aws_cdk.aws_lambda as lambda_
import aws_cdk.aws_s3 as s3
import aws_cdk.aws_sns as sns

from infra.encrypted_logs import EncryptedLogs
from infra.environment.released_artifacts import ReleasedArtifacts


@dataclass(frozen=True)
class PipelineHost:
    """The host's stateful resources and the pipeline stack's shared Lambda code and logs."""

    model_package_group_name: str  # the pipeline's registry group
    key: kms.IKey  # the host environment's key
    bucket: s3.IBucket  # the host's artifact bucket: the SageMaker Pipeline's runs
    released: ReleasedArtifacts  # where approved models are copied, and who may write there
    table: dynamodb.ITableV2  # deployment records
    on_call: sns.ITopic
    code: lambda_.Code  # the runtime package, shared by every function of the stack
    logs: EncryptedLogs
