"""A CloudWatch dashboard per endpoint: traffic, errors, latency and the judge's verdict."""

from __future__ import annotations

import aws_cdk as cdk
import aws_cdk.aws_cloudwatch as cloudwatch
from constructs import Construct

from infra.environment.metrics import EndpointMetrics


class EndpointDashboard(Construct):
    """One dashboard per endpoint; per-variant widgets show canary and baseline side by side."""

    def __init__(
        self, scope: Construct, id_: str, *, endpoint_name: str, variant_name: str
    ) -> None:
        super().__init__(scope, id_)
        metrics = EndpointMetrics(endpoint_name=endpoint_name, variant_name=variant_name)

        def graph(
            title: str, *lines: cloudwatch.IMetric, **props: object
        ) -> cloudwatch.GraphWidget:
            return cloudwatch.GraphWidget(title=title, left=list(lines), width=12, **props)

        self.dashboard = cloudwatch.Dashboard(
            self,
            "Dashboard",
            default_interval=cdk.Duration.hours(3),
            widgets=[
                [
                    graph("Invocations", metrics.invocations(label="invocations")),
                    graph(
                        "Error rate",
                        metrics.error_rate_5xx(label="5xx rate"),
                        metrics.error_rate_4xx(label="4xx rate"),
                    ),
                ],
                [
                    graph(
                        "Model latency (microseconds)",
                        metrics.model_latency("p50", label="p50"),
                        metrics.model_latency("p99", label="p99"),
                    ),
                    graph(
                        "Judge verdict (1 = rollback)",
                        metrics.verdict(label="verdict"),
                        left_y_axis=cloudwatch.YAxisProps(min=0, max=1),
                    ),
                ],
            ],
        )
