"""A CloudWatch dashboard per endpoint: traffic, errors, latency and the judge's verdict."""

from __future__ import annotations

import aws_cdk as cdk
import aws_cdk.aws_cloudwatch as cloudwatch
from constructs import Construct

from guardrails.metrics import VERDICT_METRIC, VERDICT_NAMESPACE


class EndpointDashboard(Construct):
    """One dashboard per endpoint; per-variant widgets show canary and baseline side by side."""

    def __init__(
        self, scope: Construct, id_: str, *, endpoint_name: str, variant_name: str
    ) -> None:
        super().__init__(scope, id_)
        dimensions = {"EndpointName": endpoint_name, "VariantName": variant_name}
        period = cdk.Duration.minutes(1)

        def sagemaker_metric(name: str, statistic: str, label: str) -> cloudwatch.Metric:
            return cloudwatch.Metric(
                namespace="AWS/SageMaker",
                metric_name=name,
                dimensions_map=dimensions,
                statistic=statistic,
                period=period,
                label=label,
            )

        self.dashboard = cloudwatch.Dashboard(
            self,
            "Dashboard",
            default_interval=cdk.Duration.hours(3),
            widgets=[
                [
                    cloudwatch.GraphWidget(
                        title="Invocations",
                        left=[sagemaker_metric("Invocations", "Sum", "invocations")],
                        width=12,
                    ),
                    cloudwatch.GraphWidget(
                        title="Error rate",
                        left=[
                            sagemaker_metric("Invocation5XXErrors", "Average", "5xx rate"),
                            sagemaker_metric("Invocation4XXErrors", "Average", "4xx rate"),
                        ],
                        width=12,
                    ),
                ],
                [
                    cloudwatch.GraphWidget(
                        title="Model latency (microseconds)",
                        left=[
                            sagemaker_metric("ModelLatency", "p50", "p50"),
                            sagemaker_metric("ModelLatency", "p99", "p99"),
                        ],
                        width=12,
                    ),
                    cloudwatch.GraphWidget(
                        title="Judge verdict (1 = rollback)",
                        left=[
                            cloudwatch.Metric(
                                namespace=VERDICT_NAMESPACE,
                                metric_name=VERDICT_METRIC,
                                dimensions_map={"EndpointName": endpoint_name},
                                statistic="Maximum",
                                period=period,
                                label="verdict",
                            )
                        ],
                        left_y_axis=cloudwatch.YAxisProps(min=0, max=1),
                        width=12,
                    ),
                ],
            ],
        )
