"""What every dead-letter queue must be: KMS-encrypted with a rotating key, kept, paging on-call."""

from __future__ import annotations

from aws_cdk.assertions import Match, Template


def assert_encrypted_queue_pages_on_call(
    template: Template, queue: str, *, topic: object = None
) -> None:
    """The queue: a rotating key of its own, two weeks' retention, any message pages on-call."""
    properties = template.find_resources("AWS::SQS::Queue")[queue]["Properties"]
    key = properties["KmsMasterKeyId"]["Fn::GetAtt"][0]
    assert template.find_resources("AWS::KMS::Key")[key]["Properties"]["EnableKeyRotation"]
    assert properties["MessageRetentionPeriod"] == 14 * 24 * 3600
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "MetricName": "ApproximateNumberOfMessagesVisible",
            "Dimensions": [{"Name": "QueueName", "Value": {"Fn::GetAtt": [queue, "QueueName"]}}],
            "Threshold": 1,
            "AlarmActions": [
                topic or {"Fn::ImportValue": Match.string_like_regexp("OnCallTopic")}
            ],
        },
    )
