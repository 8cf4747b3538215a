"""What pages on-call when the machinery fails: dead-letter queues for events nobody may lose,
and alarms at the first error of a function nobody else watches."""

from __future__ import annotations

from collections.abc import Mapping

import aws_cdk as cdk
import aws_cdk.aws_cloudwatch as cloudwatch
import aws_cdk.aws_cloudwatch_actions as cloudwatch_actions
import aws_cdk.aws_iam as iam
import aws_cdk.aws_kms as kms
import aws_cdk.aws_lambda as lambda_
import aws_cdk.aws_sns as sns
import aws_cdk.aws_sqs as sqs
from constructs import Construct

from infra.nag import acknowledge

RETENTION = cdk.Duration.days(14)  # SQS's longest: on-call has two weeks to replay an event
PERIOD = cdk.Duration.minutes(5)


def page_on_call(
    scope: Construct, id_: str, *, metric: cloudwatch.IMetric, description: str, topic: sns.ITopic
) -> cloudwatch.Alarm:
    """Any datapoint of 1 or more pages; no data is no failure."""
    alarm = cloudwatch.Alarm(
        scope,
        id_,
        alarm_description=description,
        metric=metric,
        threshold=1,
        evaluation_periods=1,
        comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
    )
    alarm.add_alarm_action(cloudwatch_actions.SnsAction(topic))
    return alarm


def page_on_function_errors(
    scope: Construct,
    *,
    subject: str,
    functions: Mapping[str, tuple[lambda_.IFunction, str]],
    topic: sns.ITopic,
) -> list[cloudwatch.Alarm]:
    """An alarm `<name>Errors` in `scope` per function (name -> (function, what its failure
    means)), paging at its first error."""
    return [
        page_on_call(
            scope,
            f"{name}Errors",
            metric=function.metric_errors(period=PERIOD, statistic="Sum"),
            description=f"{subject}: the {name} function failed: {consequence}",
            topic=topic,
        )
        for name, (function, consequence) in functions.items()
    ]


class FunctionErrorAlarms(Construct):
    """On-call hears when one of `functions` (name -> function) fails: what nobody else reports."""

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        subject: str,
        functions: Mapping[str, tuple[lambda_.IFunction, str]],
        topic: sns.ITopic,
    ) -> None:
        super().__init__(scope, id_)
        self.alarms = page_on_function_errors(
            self, subject=subject, functions=functions, topic=topic
        )


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
        self.alarm = page_on_call(
            self,
            "DepthAlarm",
            description=f"Dead letters of {purpose}: an event was not handled; "
            "read the queue and replay it",
            metric=self.queue.metric_approximate_number_of_messages_visible(
                period=cdk.Duration.minutes(1), statistic="Maximum"
            ),
            topic=topic,
        )
