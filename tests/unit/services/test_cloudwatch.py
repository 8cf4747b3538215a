"""The CloudWatch seam against moto (Stubber for pagination, which moto does not do)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import boto3
import pytest
from botocore.stub import ANY, Stubber
from moto import mock_aws

from guardrails.rollout.metrics import fleet_plan, metric_queries
from guardrails.services.cloudwatch import CloudWatchSeam
from tests.aws import REGION

NOW = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=1)


@pytest.fixture
def cloudwatch():
    with mock_aws():
        yield boto3.client("cloudwatch", region_name=REGION)


def test_the_verdict_lands_where_the_verdict_alarm_watches(cloudwatch):
    CloudWatchSeam(cloudwatch).put_verdict("guardrails-prod", 1, timestamp=NOW)
    points = cloudwatch.get_metric_statistics(
        Namespace="Guardrails",
        MetricName="JudgeVerdict",
        Dimensions=[{"Name": "EndpointName", "Value": "guardrails-prod"}],
        StartTime=NOW - timedelta(minutes=1),
        EndTime=NOW + timedelta(minutes=1),
        Period=60,
        Statistics=["Maximum"],
    )["Datapoints"]
    assert [p["Maximum"] for p in points] == [1.0]


def test_metric_data_reads_series_by_query_id(cloudwatch):
    dims = [{"Name": "EndpointName", "Value": "e"}]
    cloudwatch.put_metric_data(
        Namespace="AWS/SageMaker",
        MetricData=[
            {"MetricName": "Invocations", "Dimensions": dims, "Timestamp": NOW, "Value": 7.0}
        ],
    )
    query = {
        "Id": "inv",
        "MetricStat": {
            "Metric": {"Namespace": "AWS/SageMaker", "MetricName": "Invocations",
                       "Dimensions": dims},
            "Period": 60,
            "Stat": "Sum",
        },
    }  # fmt: skip
    series = CloudWatchSeam(cloudwatch).metric_data(
        [query], start=NOW - timedelta(minutes=2), end=NOW + timedelta(minutes=2)
    )
    assert list(series["inv"].values()) == [7.0]


def test_metric_data_reads_every_page():
    client = boto3.client("cloudwatch", region_name=REGION)
    first, second = NOW, NOW + timedelta(minutes=1)
    query = {"Id": "q", "Expression": "SELECT 1"}
    with Stubber(client) as stub:
        stub.add_response(
            "get_metric_data",
            {"MetricDataResults": [{"Id": "q", "Timestamps": [first], "Values": [1.0]}],
             "NextToken": "page-2"},
            {"MetricDataQueries": [query], "StartTime": ANY, "EndTime": ANY,
             "ScanBy": "TimestampAscending"},
        )  # fmt: skip
        stub.add_response(
            "get_metric_data",
            {"MetricDataResults": [{"Id": "q", "Timestamps": [second], "Values": [2.0]}]},
            {"MetricDataQueries": [query], "StartTime": ANY, "EndTime": ANY,
             "ScanBy": "TimestampAscending", "NextToken": "page-2"},
        )  # fmt: skip
        series = CloudWatchSeam(client).metric_data([query], start=NOW, end=second)
    assert series == {"q": {first: 1.0, second: 2.0}}


def test_alarms_in_alarm_names_only_the_firing_ones(cloudwatch):
    for name in ("errors", "latency"):
        cloudwatch.put_metric_alarm(
            AlarmName=name, MetricName="m", Namespace="n", Statistic="Maximum", Period=60,
            EvaluationPeriods=1, Threshold=1, ComparisonOperator="GreaterThanThreshold",
        )  # fmt: skip
    cloudwatch.set_alarm_state(AlarmName="latency", StateValue="ALARM", StateReason="test")
    seam = CloudWatchSeam(cloudwatch)
    assert seam.alarms_in_alarm(["errors", "latency"]) == ["latency"]
    assert seam.alarms_in_alarm([]) == []


def test_labelled_counts_land_where_the_judge_reads_them_per_variant_and_minute(cloudwatch):
    earlier = NOW - timedelta(minutes=1)
    CloudWatchSeam(cloudwatch).put_labelled_counts(
        "guardrails-staging",
        {
            ("AllTraffic", earlier): (40, 45),
            ("Candidate", NOW): (50, 55),
            ("Candidate", earlier): (0, 0),  # nothing answered: nothing published
        },
    )
    plan = fleet_plan(
        kind="ab",
        endpoint_name="guardrails-staging",
        variant_name="AllTraffic",
        candidate_variant="Candidate",
        candidate_config="trial",
    )
    series = CloudWatchSeam(cloudwatch).metric_data(
        metric_queries(plan), start=earlier, end=NOW + timedelta(minutes=1)
    )
    assert list(series["a_qc"].values()) == [40.0] and list(series["a_qt"].values()) == [45.0]
    assert list(series["b_qc"].values()) == [50.0] and list(series["b_qt"].values()) == [55.0]


def test_no_labelled_counts_publish_nothing():
    client = boto3.client("cloudwatch", region_name=REGION)
    with Stubber(client) as stub:  # any call would fail: none is stubbed
        CloudWatchSeam(client).put_labelled_counts("e", {("AllTraffic", NOW): (0, 0)})
        stub.assert_no_pending_responses()
