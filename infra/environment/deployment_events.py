"""Routes SageMaker endpoint deployment state changes (rollbacks included) to on-call."""

from __future__ import annotations

import aws_cdk.aws_events as events
import aws_cdk.aws_events_targets as targets
import aws_cdk.aws_sns as sns
import aws_cdk.aws_sqs as sqs
from constructs import Construct


class DeploymentStateNotifications(Construct):
    """An EventBridge rule turning endpoint deployment events into a readable message."""

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        endpoint_name: str,
        topic: sns.ITopic,
        dead_letter_queue: sqs.IQueue,
    ) -> None:
        super().__init__(scope, id_)
        self.rule = events.Rule(
            self,
            "Rule",
            description=f"SageMaker deployment state changes of {endpoint_name} to on-call",
            event_pattern=events.EventPattern(
                source=["aws.sagemaker"],
                detail_type=["SageMaker Endpoint Deployment State Change"],
                detail={"EndpointName": [endpoint_name]},
            ),
        )
        state = events.EventField.from_path("$.detail.State")
        reason = events.EventField.from_path("$.detail.FailureReason")
        config = events.EventField.from_path("$.detail.EndpointConfigName")
        when = events.EventField.time
        self.rule.add_target(
            targets.SnsTopic(
                topic,
                authorize_using_role=True,  # a role's IAM grant: no topic or key policy statement
                dead_letter_queue=dead_letter_queue,
                message=events.RuleTargetInput.from_text(
                    f"SageMaker endpoint {endpoint_name} deployment is now {state} at {when}. "
                    f"Endpoint config: {config}. Reason: {reason}. "
                    "Check the dashboard and `guardrails status` for the rollout record."
                ),
            )
        )
