"""The guarded rollout of one environment: state machine, step functions, alarms' consumer."""

from __future__ import annotations

import aws_cdk as cdk
from constructs import Construct

from infra.config import EnvironmentConfig
from infra.environment.identities import PipelinePrincipals, Placement
from infra.environment.operations_alarms import OperationsAlarms
from infra.rollout.guarded_rollout import GuardedRollout
from infra.rollout.release_access import ReleaseAccess, name_release_readers
from stacks.endpoint_stack import EndpointStack
from stacks.stateful_stack import StatefulStack


class RolloutStack(cdk.Stack):
    """Takes a model package to production traffic only through the judge.

    In a deploy environment (`deployed_by` names the pipeline's host), the pipeline reaches the
    rollout through one role it may assume (`release_access`); the state machine and the steps
    that read released models have derived names, which the tooling account's policies use.
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        config: EnvironmentConfig,
        stateful: StatefulStack,
        endpoint: EndpointStack,
        deployed_by: EnvironmentConfig | None = None,
        **kwargs,
    ) -> None:
        super().__init__(scope, id_, **kwargs)
        placement = Placement.of(self, config)
        rollout = GuardedRollout(
            self,
            "Rollout",
            config=config,
            rollback_alarms=endpoint.alarms.rollback_alarms,
            table=stateful.table,
            topic=stateful.topic,
            key=stateful.key,
            bucket=stateful.bucket,
            model_role=stateful.model_role,
            released=stateful.released,
            serving_model=stateful.serving_model,
            model_package_group_name=stateful.pipeline_group_name,
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
                pipeline=PipelinePrincipals.of(self, deployed_by),
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
