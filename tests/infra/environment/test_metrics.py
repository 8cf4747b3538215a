"""EndpointMetrics: the dashboard graphs exactly the metrics the rollback alarms watch."""

from __future__ import annotations

import json

import aws_cdk as cdk
import pytest

from infra.environment.metrics import EndpointMetrics


def dashboard_metrics(template) -> set[tuple]:
    """(namespace, name, dimensions, period, statistic) of every line on the dashboard."""
    (dashboard,) = template.find_resources("AWS::CloudWatch::Dashboard").values()
    parts = dashboard["Properties"]["DashboardBody"]["Fn::Join"][1]
    body = json.loads("".join(p if isinstance(p, str) else "REGION" for p in parts))
    found = set()
    for widget in body["widgets"]:
        for namespace, name, *rest in widget["properties"]["metrics"]:
            *dimensions, options = rest
            pairs = tuple(zip(dimensions[::2], dimensions[1::2], strict=True))
            found.add((namespace, name, pairs, options["period"], options.get("stat", "Average")))
    return found


def alarm_metrics(template) -> set[tuple]:
    """The same identity for the metric of every alarm."""
    found = set()
    for alarm in template.find_resources("AWS::CloudWatch::Alarm").values():
        p = alarm["Properties"]
        pairs = tuple((d["Name"], d["Value"]) for d in p["Dimensions"])
        statistic = p.get("Statistic") or p["ExtendedStatistic"]
        found.add((p["Namespace"], p["MetricName"], pairs, p["Period"], statistic))
    return found


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_the_dashboard_graphs_every_metric_a_rollback_alarm_watches(template_of, env):
    watched = alarm_metrics(template_of(env, "endpoint"))
    assert {name for _, name, *_ in watched} == {
        "Invocation5XXErrors",
        "ModelLatency",
        "JudgeVerdict",
    }
    assert watched <= dashboard_metrics(template_of(env, "monitoring"))


def test_sagemaker_metrics_are_per_minute_on_the_variant_and_the_verdict_per_endpoint():
    metrics = EndpointMetrics(endpoint_name="guardrails-test", variant_name="AllTraffic")
    stack = cdk.Stack()
    for metric in (metrics.invocations(), metrics.error_rate_5xx(), metrics.model_latency("p99")):
        assert metric.namespace == "AWS/SageMaker"
        assert stack.resolve(metric.dimensions) == {
            "EndpointName": "guardrails-test",
            "VariantName": "AllTraffic",
        }
        assert metric.period.to_seconds() == 60
    verdict = metrics.verdict()
    assert (verdict.namespace, verdict.statistic) == ("Guardrails", "Maximum")
    assert stack.resolve(verdict.dimensions) == {"EndpointName": "guardrails-test"}
