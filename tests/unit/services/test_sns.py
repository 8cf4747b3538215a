"""The SNS seam: e-mail text in the body, the same facts as JSON in the `facts` attribute."""

from __future__ import annotations

import json

import boto3
from botocore.stub import ANY, Stubber

from guardrails.notifications import RolloutEvent
from guardrails.services.sns import Notifier
from tests.aws import REGION

TOPIC = "arn:aws:sns:us-east-1:123456789012:on-call"


def test_publishes_subject_text_and_facts():
    client = boto3.client("sns", region_name=REGION)
    event = RolloutEvent(kind="promoted", environment="prod", endpoint_name="guardrails-prod")
    sent = {}

    def capture(params, **_):
        sent.update(params)

    client.meta.events.register("before-parameter-build.sns.Publish", capture)
    with Stubber(client) as stub:
        stub.add_response(
            "publish",
            {"MessageId": "1"},
            {"TopicArn": TOPIC, "Subject": "[Guardrails prod] Rollout promoted: guardrails-prod",
             "Message": ANY, "MessageAttributes": ANY},
        )  # fmt: skip
        message = Notifier(client, TOPIC).notify(event)
    assert sent["Message"] == message.text and "Rollout promoted on guardrails-prod" in message.text
    facts = json.loads(sent["MessageAttributes"]["facts"]["StringValue"])
    assert sent["MessageAttributes"]["facts"]["DataType"] == "String"
    assert (facts["kind"], facts["endpoint_name"]) == ("promoted", "guardrails-prod")
