"""The CloudWatch seam: the judge's reads, its verdict, the replay's labelled counts, alarms."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from guardrails.rollout.metrics import (
    QUALITY_CORRECT_METRIC,
    QUALITY_NAMESPACE,
    QUALITY_TOTAL_METRIC,
    VERDICT_METRIC,
    VERDICT_NAMESPACE,
)

# GetMetricData takes at most 500 queries per call; PutMetricData 1000 data points.
MAX_QUERIES_PER_CALL = 500
MAX_DATA_PER_PUT = 1000

Series = dict[str, dict[datetime, float]]


class CloudWatchSeam:
    """GetMetricData, the verdict metric and DescribeAlarms, over a boto3 client."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def metric_data(
        self, queries: Sequence[Mapping[str, Any]], *, start: datetime, end: datetime
    ) -> Series:
        """Query id -> {timestamp: value}, every page read."""
        series: Series = {str(query["Id"]): {} for query in queries}
        for offset in range(0, len(queries), MAX_QUERIES_PER_CALL):
            request: dict[str, Any] = {
                "MetricDataQueries": [
                    dict(q) for q in queries[offset : offset + MAX_QUERIES_PER_CALL]
                ],
                "StartTime": start,
                "EndTime": end,
                "ScanBy": "TimestampAscending",
            }
            while True:
                response = self._client.get_metric_data(**request)
                for result in response.get("MetricDataResults", []):
                    points = series.setdefault(result["Id"], {})
                    for stamp, value in zip(
                        result.get("Timestamps", []), result.get("Values", []), strict=False
                    ):
                        points[stamp] = float(value)
                token = response.get("NextToken")
                if not token:
                    break
                request["NextToken"] = token
        return series

    def put_verdict(self, endpoint_name: str, value: int, *, timestamp: datetime) -> None:
        """Publish the judge's verdict (1 = rollback) where the VerdictAlarm watches it."""
        self._client.put_metric_data(
            Namespace=VERDICT_NAMESPACE,
            MetricData=[
                {
                    "MetricName": VERDICT_METRIC,
                    "Dimensions": [{"Name": "EndpointName", "Value": endpoint_name}],
                    "Timestamp": timestamp,
                    "Value": float(value),
                    "Unit": "None",
                }
            ],
        )

    def put_labelled_counts(
        self, endpoint_name: str, counts: Mapping[tuple[str, datetime], tuple[int, int]]
    ) -> None:
        """Publish (correct, total) per (variant, minute) where the judge's reader reads them.

        `LabelledCorrect` and `LabelledTotal` in the quality namespace, under the dimensions
        SageMaker's own metrics of the variant carry (EndpointName, VariantName).
        """
        data = [
            {
                "MetricName": name,
                "Dimensions": [
                    {"Name": "EndpointName", "Value": endpoint_name},
                    {"Name": "VariantName", "Value": variant},
                ],
                "Timestamp": minute,
                "Value": float(value),
                "Unit": "Count",
            }
            for (variant, minute), (correct, total) in sorted(counts.items())
            if total > 0
            for name, value in ((QUALITY_CORRECT_METRIC, correct), (QUALITY_TOTAL_METRIC, total))
        ]
        for offset in range(0, len(data), MAX_DATA_PER_PUT):
            self._client.put_metric_data(
                Namespace=QUALITY_NAMESPACE, MetricData=data[offset : offset + MAX_DATA_PER_PUT]
            )

    def alarms_in_alarm(self, alarm_names: Sequence[str]) -> list[str]:
        """Those of `alarm_names` that are in the ALARM state now."""
        if not alarm_names:
            return []
        response = self._client.describe_alarms(AlarmNames=list(alarm_names))
        return [
            alarm["AlarmName"]
            for alarm in response.get("MetricAlarms", [])
            if alarm.get("StateValue") == "ALARM"
        ]
