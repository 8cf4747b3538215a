"""A KMS-encrypted dead-letter queue for events nobody may lose, and an alarm when one lands."""

from __future__ import annotations

import aws_cdk as cdk
import aws_cdk.aws_cloudwatch as cloudwatch
import aws_cdk.aws_cloudwatch_actions as cloudwatch_actions
import aws_cdk.aws_iam as iam
import aws_cdk.aws_kms as kms
import aws_cdk.aws_sns as sns
import aws_cdk.aws_sqs as sqs
from constructs import Construct

from infra.nag import acknowledge

RETENTION = cdk.Duration.days(14)  # SQS's longest: on-call has two weeks to replay an event


class DeadLetterQueue(Construct):
    """Where EventBridge targets and asynchronous Lambdas put what they could not deliver.

    The queue is encrypted with a key of its own whose policy admits EventBridge (a rule's
    target writes to it as events.amazonaws.com; a Lambda's role is granted it by CDK). Any
    message in it pages on-call.
    """

    def __init__(self, scope: Construct, id_: str, *, purpose: str, topic: sns.ITopic) -> None:
        super().__init__(scope, id_)
        self.key = kms.Key(
            self,
            "Key",
            description=f"Dead letters of {purpose}",
            enable_key_rotation=True,
            removal_policy=cdk.RemovalPolicy.DESTROY,
        )
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                actions=["kms:Decrypt", "kms:GenerateDataKey"],
                principals=[iam.ServicePrincipal("events.amazonaws.com")],
                resources=["*"],
            )
        )
        self.queue = sqs.Queue(
            self,
            "Queue",
            encryption=sqs.QueueEncryption.KMS,
            encryption_master_key=self.key,
            enforce_ssl=True,
            retention_period=RETENTION,
        )
        acknowledge(
            self.queue,
            "AwsSolutions-SQS3",
            "This queue is itself the dead-letter queue of an EventBridge target and an "
            "asynchronous Lambda; its depth alarm pages on-call.",
        )
        self.alarm = cloudwatch.Alarm(
            self,
            "DepthAlarm",
            alarm_description=f"Dead letters of {purpose}: an event was not handled; "
            "read the queue and replay it",
            metric=self.queue.metric_approximate_number_of_messages_visible(
                period=cdk.Duration.minutes(1), statistic="Maximum"
            ),
            threshold=1,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        self.alarm.add_alarm_action(cloudwatch_actions.SnsAction(topic))
