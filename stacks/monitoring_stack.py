"""Dashboard and deployment-event notifications of one environment's endpoint."""

from __future__ import annotations

import aws_cdk as cdk
from constructs import Construct

from infra.config import EnvironmentConfig
from infra.dead_letters import DeadLetterQueue
from infra.environment.dashboard import EndpointDashboard
from infra.environment.deployment_events import DeploymentStateNotifications
from infra.nag import acknowledge_wildcards
from stacks.stateful_stack import StatefulStack


class MonitoringStack(cdk.Stack):
    """What on-call looks at, and what tells on-call that a deployment changed state."""

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        config: EnvironmentConfig,
        stateful: StatefulStack,
        **kwargs,
    ) -> None:
        super().__init__(scope, id_, **kwargs)
        EndpointDashboard(
            self,
            "Dashboard",
            endpoint_name=config.endpoint_name,
            variant_name=config.endpoint.variant_name,
        )
        dead_letters = DeadLetterQueue(
            self,
            "DeadLetters",
            purpose=f"deployment state changes of {config.endpoint_name} to on-call",
            topic=stateful.topic,
        )
        notifications = DeploymentStateNotifications(
            self,
            "DeploymentEvents",
            endpoint_name=config.endpoint_name,
            topic=stateful.topic,
            dead_letter_queue=dead_letters.queue,
        )
        acknowledge_wildcards(
            notifications,
            "EventBridge publishes to the KMS-encrypted on-call topic with a role of its own, "
            "which needs data keys of the topic's key (CDK's grant names the action group).",
            actions=["kms:GenerateDataKey*"],
        )
