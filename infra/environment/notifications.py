"""The on-call SNS topic: KMS-encrypted, TLS-only, with e-mail subscriptions from config."""

from __future__ import annotations

from collections.abc import Sequence

import aws_cdk as cdk
import aws_cdk.aws_iam as iam
import aws_cdk.aws_kms as kms
import aws_cdk.aws_sns as sns
import aws_cdk.aws_sns_subscriptions as subscriptions
from constructs import Construct

from infra.environment.storage import alarms_of_this_account


class OnCallTopic(Construct):
    """Where rollouts, rollbacks, alarms and pipeline failures are announced."""

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        key: kms.IKey,
        emails: Sequence[str],
        retain: bool,
    ) -> None:
        super().__init__(scope, id_)
        self.topic = sns.Topic(
            self,
            "Topic",
            display_name="Guardrails on-call",
            master_key=key,
            enforce_ssl=True,
        )
        self.topic.apply_removal_policy(
            cdk.RemovalPolicy.RETAIN if retain else cdk.RemovalPolicy.DESTROY
        )
        # Rollback and verdict alarms publish here; only this account's alarms may. EventBridge
        # rules targeting the topic publish with a role of their own (`authorize_using_role`),
        # so no service may publish here without these conditions.
        self.topic.add_to_resource_policy(
            iam.PolicyStatement(
                actions=["sns:Publish"],
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                resources=[self.topic.topic_arn],
                conditions=alarms_of_this_account(self),
            )
        )
        for email in emails:
            self.topic.add_subscription(subscriptions.EmailSubscription(email))
