"""The SNS seam: sends on-call messages to the topic."""

from __future__ import annotations

from typing import Any

from guardrails.notifications import Message, RolloutEvent, render

FACTS_ATTRIBUTE = "facts"


class Notifier:
    """Publishes RolloutEvents to the on-call topic, text in the body, facts as JSON."""

    def __init__(self, client: Any, topic_arn: str) -> None:
        self._client = client
        self._topic_arn = topic_arn

    def notify(self, event: RolloutEvent) -> Message:
        """Render and publish one event; the message sent."""
        message = render(event)
        self._client.publish(
            TopicArn=self._topic_arn,
            Subject=message.subject,
            Message=message.text,
            MessageAttributes={
                FACTS_ATTRIBUTE: {"DataType": "String", "StringValue": message.facts_json()}
            },
        )
        return message

    def send(self, *, subject: str, text: str) -> None:
        """Publish a plain message (subject cut to SNS's 100 characters)."""
        self._client.publish(TopicArn=self._topic_arn, Subject=subject[:100], Message=text)
