"""Alarms on the project's own machinery: the failures that no rollout message would report."""

from __future__ import annotations

from collections.abc import Mapping

import aws_cdk.aws_cloudwatch as cloudwatch
import aws_cdk.aws_lambda as lambda_
import aws_cdk.aws_sns as sns
import aws_cdk.aws_stepfunctions as sfn
from constructs import Construct

from infra.dead_letters import PERIOD, page_on_call, page_on_function_errors


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
        self.alarms: list[cloudwatch.Alarm] = []

        def page(id_: str, metric: cloudwatch.IMetric, description: str) -> None:
            self.alarms.append(
                page_on_call(
                    self, id_, metric=metric, description=f"{subject}: {description}", topic=topic
                )
            )

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
        unhandled = "a failure or an ended execution may be unhandled"
        self.alarms += page_on_function_errors(
            self,
            subject=subject,
            functions={name: (function, unhandled) for name, function in functions.items()},
            topic=topic,
        )
