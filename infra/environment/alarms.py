"""CloudWatch alarms that make SageMaker roll an endpoint update back."""

from __future__ import annotations

import aws_cdk.aws_cloudwatch as cloudwatch
import aws_cdk.aws_cloudwatch_actions as cloudwatch_actions
import aws_cdk.aws_sns as sns
from constructs import Construct

from guardrails.rollout.metrics import VERDICT_ROLLBACK
from guardrails.rollout.schedule import VERDICT_ALARM_MINUTES
from infra.environment.metrics import EndpointMetrics

MICROSECONDS_PER_MILLISECOND = 1000


class EndpointAlarms(Construct):
    """5xx error rate, p99 model latency and the judge's verdict, each notifying on-call."""

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        endpoint_name: str,
        variant_name: str,
        max_5xx_error_rate: float,
        max_model_latency_ms: float,
        topic: sns.ITopic,
    ) -> None:
        super().__init__(scope, id_)
        metrics = EndpointMetrics(endpoint_name=endpoint_name, variant_name=variant_name)

        def sustained_breach(
            id_: str, metric: cloudwatch.Metric, threshold: float, description: str
        ) -> cloudwatch.Alarm:
            """Two breaching minutes out of three: one slow minute must not roll back."""
            return metric.create_alarm(
                self,
                id_,
                alarm_description=f"{endpoint_name}: {description}",
                threshold=threshold,
                evaluation_periods=3,
                datapoints_to_alarm=2,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            )

        self.error_rate_alarm = sustained_breach(
            "ErrorRateAlarm",
            metrics.error_rate_5xx(),
            max_5xx_error_rate,
            f"5xx error rate above {max_5xx_error_rate}",
        )
        self.latency_alarm = sustained_breach(
            "LatencyAlarm",
            metrics.model_latency("p99"),
            max_model_latency_ms * MICROSECONDS_PER_MILLISECOND,
            f"p99 model latency above {max_model_latency_ms} ms",
        )
        # The judge publishes 1 when it decides rollback: one datapoint is enough. A rollout
        # holding the verdict republishes it every minute; counting one breaching minute of
        # the last three, a late round cannot let the alarm clear while SageMaker needs it.
        self.verdict_alarm = metrics.verdict().create_alarm(
            self,
            "VerdictAlarm",
            alarm_description=f"{endpoint_name}: the canary judge decided rollback",
            threshold=VERDICT_ROLLBACK,
            evaluation_periods=VERDICT_ALARM_MINUTES,
            datapoints_to_alarm=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        self.rollback_alarms = (self.error_rate_alarm, self.latency_alarm, self.verdict_alarm)
        notify = cloudwatch_actions.SnsAction(topic)
        for alarm in self.rollback_alarms:
            alarm.add_alarm_action(notify)
            alarm.add_ok_action(notify)
