"""The release state machine: the guarded rollout of every deploy environment, in order.

A package approved in the SageMaker console (not through the pipeline) is rolled out by this
state machine the way the pipeline's Deploy stages would: each environment's rollout runs to
its end before the next one starts, and a failed or rolled-back rollout stops the release.
"""

from __future__ import annotations

from collections.abc import Sequence

import aws_cdk as cdk
import aws_cdk.aws_kms as kms
import aws_cdk.aws_sns as sns
import aws_cdk.aws_stepfunctions as sfn
import aws_cdk.aws_stepfunctions_tasks as tasks
from constructs import Construct

from infra.encrypted_logs import EncryptedLogs
from infra.nag import acknowledge_granted_wildcards, acknowledge_wildcards
from infra.pipeline.model_pipeline import DeployEnvironment
from infra.state_machine import LoggedStateMachine

RELEASE_TIMEOUT = cdk.Duration.days(1)


class ReleaseStateMachine(Construct):
    """Input {"model_package_arn", "started_by", "reason"}, passed to each rollout unchanged."""

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        deploy_environments: Sequence[DeployEnvironment],
        on_call: sns.ITopic,
        on_call_key: kms.IKey,
        logs: EncryptedLogs,
    ) -> None:
        super().__init__(scope, id_)
        stopped = sfn.Fail(self, "ReleaseStopped", error="ReleaseStopped")
        rollout_input = sfn.TaskInput.from_object(
            {
                "model_package_arn": sfn.JsonPath.string_at("$.model_package_arn"),
                "started_by": sfn.JsonPath.string_at("$.started_by"),
                "reason": sfn.JsonPath.string_at("$.reason"),
            }
        )
        chain: sfn.Chain | None = None
        for deploy_env in deploy_environments:
            name = deploy_env.config.name.capitalize()
            rollout = tasks.StepFunctionsStartExecution(
                self,
                f"Rollout{name}",
                comment=f"Guarded rollout to {deploy_env.config.name}; waits for its end",
                state_machine=deploy_env.state_machine,
                integration_pattern=sfn.IntegrationPattern.RUN_JOB,
                input=rollout_input,
                result_path=sfn.JsonPath.DISCARD,
            )
            notify = tasks.SnsPublish(
                self,
                f"Tell{name}Failed",
                topic=on_call,
                subject=f"Guardrails: release stopped in {deploy_env.config.name}",
                message=sfn.TaskInput.from_text(
                    sfn.JsonPath.format(
                        f"The release of {{}} stopped in {deploy_env.config.name}: its guarded "
                        "rollout failed or was rolled back ({}). Later environments were not "
                        "touched.",
                        sfn.JsonPath.string_at("$.model_package_arn"),
                        sfn.JsonPath.string_at("$.failure.Error"),
                    )
                ),
                result_path=sfn.JsonPath.DISCARD,
            )
            rollout.add_catch(notify.next(stopped), result_path="$.failure")
            chain = rollout if chain is None else chain.next(rollout)  # type: ignore[assignment]
        if chain is None:
            chain = sfn.Chain.start(sfn.Succeed(self, "NothingToDeploy"))
        machine = LoggedStateMachine(
            self,
            "StateMachine",
            log_group_id="Logs",
            logs=logs,
            comment="Guardrails release: guarded rollout to each deploy environment in order",
            definition=chain,
            timeout=RELEASE_TIMEOUT,
        )
        self.state_machine, role = machine.state_machine, machine.role
        on_call_key.grant(self.state_machine, "kms:Decrypt", "kms:GenerateDataKey*")
        acknowledge_granted_wildcards(
            role,
            "Waiting for a child rollout needs DescribeExecution/StopExecution on its executions, "
            "whose names are generated.",
            actions=["states:DescribeExecution", "states:StopExecution"],
        )
        acknowledge_wildcards(
            role,
            "Publishing to the KMS-encrypted on-call topic needs data keys of its key.",
            actions=["kms:GenerateDataKey*"],
        )
