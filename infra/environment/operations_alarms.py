"""Alarms on the project's own machinery: the failures that no rollout message would report."""

from __future__ import annotations

from collections.abc import Mapping

import aws_cdk as cdk
import aws_cdk.aws_cloudwatch as cloudwatch
import aws_cdk.aws_cloudwatch_actions as cloudwatch_actions
import aws_cdk.aws_lambda as lambda_
import aws_cdk.aws_sns as sns
import aws_cdk.aws_stepfunctions as sfn
from constructs import Construct

PERIOD = cdk.Duration.minutes(5)


class OperationsAlarms(Construct):
    """On-call hears when a state machine times out or fails unhandled, or a function errs.

    `functions` are the ones whose errors nobody else reports: steps that raise by design
    (EndpointBusy is retried) are left out, their failures reach on-call through the failure
    path. `failed_rollouts` is the Powertools count of failure rounds that settled.
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        subject: str,
        state_machine: sfn.IStateMachine,
        functions: Mapping[str, lambda_.IFunction],
        failed_rollouts: cloudwatch.IMetric,
        topic: sns.ITopic,
    ) -> None:
        super().__init__(scope, id_)
        notify = cloudwatch_actions.SnsAction(topic)
        self.alarms: list[cloudwatch.Alarm] = []

        def page(id_: str, metric: cloudwatch.IMetric, description: str) -> None:
            alarm = cloudwatch.Alarm(
                self,
                id_,
                alarm_description=f"{subject}: {description}",
                metric=metric,
                threshold=1,
                evaluation_periods=1,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            )
            alarm.add_alarm_action(notify)
            self.alarms.append(alarm)

        page(
            "ExecutionsTimedOut",
            state_machine.metric_timed_out(period=PERIOD, statistic="Sum"),
            "a rollout execution timed out; its clean-up execution stops the candidate",
        )
        page(
            "RolloutsFailed",
            failed_rollouts,
            "a rollout failed; the failure message says whether the endpoint is back on "
            "its recorded config",
        )
        for name, function in functions.items():
            page(
                f"{name}Errors",
                function.metric_errors(period=PERIOD, statistic="Sum"),
                f"the {name} function failed: a failure or an ended execution may be unhandled",
            )
