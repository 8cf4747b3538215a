"""What the rollout uses of its environment's stateful stack (which has all of it)."""

from __future__ import annotations

from typing import Protocol

import aws_cdk.aws_dynamodb as dynamodb
import aws_cdk.aws_iam as iam
import aws_cdk.aws_kms as kms
import aws_cdk.aws_s3 as s3
import aws_cdk.aws_sns as sns

from infra.environment.released_artifacts import ReleasedModels
from infra.environment.serving_model import ServingModelParameter


class StatefulResources(Protocol):
    """The environment's long-lived resources the rollout's steps work with."""

    table: dynamodb.ITableV2  # deployment records, decisions and the endpoint's lock
    topic: sns.ITopic  # on-call
    key: kms.IKey  # the environment's key: endpoint configs and data capture name it
    bucket: s3.IBucket  # the artifact bucket, where data capture lands
    model_role: iam.IRole  # the models the rollout creates run with it
    released: ReleasedModels  # the pipeline host's released models and registry group
    serving_model: ServingModelParameter  # what serves: written on promotion and rollback
