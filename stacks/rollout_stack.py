"""The guarded rollout of one environment: state machine, step functions, alarms' consumer."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from constructs import Construct

from infra.config import EnvironmentConfig
from infra.environment.identities import PipelinePrincipals, Placement
from infra.environment.operations_alarms import OperationsAlarms
from infra.rollout.guarded_rollout import GuardedRollout
from infra.rollout.release_access import ReleaseAccess, name_release_readers
from stacks.endpoint_stack import EndpointStack
from stacks.environment_stack import EnvironmentStack


class RolloutStack(EnvironmentStack):
    """Takes a model package to production traffic only through the judge.

    In a deploy environment (`deployed_by` names the pipeline's host), the pipeline reaches the
    rollout through one role it may assume (`release_access`); the state machine and the steps
    that read released models have derived names, which the tooling account's policies use.
    `evidence_read`: this rollout is the evidence for the approval before prod, so the role
    trusts the pipeline's evidence function too.
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        endpoint: EndpointStack,
        deployed_by: EnvironmentConfig | None = None,
        evidence_read: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, id_, **kwargs)
        config, stateful = self.config, self.stateful
        placement = Placement.of(self, config)
        rollout = GuardedRollout(
            self,
            "Rollout",
            config=config,
            stateful=stateful,
            rollback_alarms=endpoint.alarms.rollback_alarms,
        )
        name_release_readers(rollout.functions, placement)
        self.state_machine = rollout.state_machine
        OperationsAlarms(
            self,
            "OperationsAlarms",
            subject=f"Guardrails {config.name} rollout of {config.endpoint_name}",
            state_machine=rollout.state_machine,
            functions={
                name: rollout.functions[name] for name in ("RecordFailure", "ExecutionEnded")
            },
            failed_rollouts=rollout.failed_rollouts,
            topic=stateful.topic,
        )
        self.release_access = None
        if deployed_by is not None:
            self.release_access = ReleaseAccess(
                self,
                "ReleaseAccess",
                placement=placement,
                pipeline=PipelinePrincipals.of(self, deployed_by, evidence_read=evidence_read),
                state_machine=self.state_machine,
                endpoint_name=config.endpoint_name,
            ).role

        cdk.CfnOutput(
            self,
            "StateMachineArn",
            value=self.state_machine.state_machine_arn,
            description='Start with {"model_package_arn": ..., "started_by": ..., "reason": ...}',
        )
        if self.release_access is not None:
            cdk.CfnOutput(self, "ReleaseAccessRoleArn", value=self.release_access.role_arn)
