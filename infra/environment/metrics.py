"""The endpoint's metrics, each defined once, for the rollback alarms and the dashboard alike."""

from __future__ import annotations

import aws_cdk as cdk
import aws_cdk.aws_cloudwatch as cloudwatch

from guardrails.rollout.metrics import VERDICT_METRIC, VERDICT_NAMESPACE

SAGEMAKER_NAMESPACE = "AWS/SageMaker"
PERIOD = cdk.Duration.minutes(1)


class EndpointMetrics:
    """A metric factory for one endpoint's variant: namespace, dimensions, statistic, period.

    Every metric is per minute. `label` only names a line on a graph; alarms leave it out.
    """

    def __init__(self, *, endpoint_name: str, variant_name: str) -> None:
        self.endpoint_name = endpoint_name
        self._dimensions = {"EndpointName": endpoint_name, "VariantName": variant_name}

    def invocations(self, *, label: str | None = None) -> cloudwatch.Metric:
        """Requests served by the variant (Sum)."""
        return self._sagemaker("Invocations", "Sum", label)

    def error_rate_5xx(self, *, label: str | None = None) -> cloudwatch.Metric:
        """Share of requests answered 5xx: Invocation5XXErrors is 0 or 1 per request (Average)."""
        return self._sagemaker("Invocation5XXErrors", "Average", label)

    def error_rate_4xx(self, *, label: str | None = None) -> cloudwatch.Metric:
        """Share of requests answered 4xx (Average of Invocation4XXErrors)."""
        return self._sagemaker("Invocation4XXErrors", "Average", label)

    def model_latency(self, percentile: str, *, label: str | None = None) -> cloudwatch.Metric:
        """ModelLatency at `percentile` (e.g. "p99"), in microseconds as SageMaker publishes it."""
        return self._sagemaker("ModelLatency", percentile, label)

    def verdict(self, *, label: str | None = None) -> cloudwatch.Metric:
        """The canary judge's verdict, 1 when it decides rollback (Maximum; per endpoint)."""
        return cloudwatch.Metric(
            namespace=VERDICT_NAMESPACE,
            metric_name=VERDICT_METRIC,
            dimensions_map={"EndpointName": self.endpoint_name},
            statistic="Maximum",
            period=PERIOD,
            label=label,
        )

    def _sagemaker(self, name: str, statistic: str, label: str | None) -> cloudwatch.Metric:
        return cloudwatch.Metric(
            namespace=SAGEMAKER_NAMESPACE,
            metric_name=name,
            dimensions_map=self._dimensions,
            statistic=statistic,
            period=PERIOD,
            label=label,
        )
