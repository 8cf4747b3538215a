"""The guarded rollout of one environment: a Step Functions state machine over the step Lambdas."""

from __future__ import annotations

from collections.abc import Sequence

import aws_cdk as cdk
import aws_cdk.aws_cloudwatch as cloudwatch
import aws_cdk.aws_events as events
import aws_cdk.aws_events_targets as targets
from constructs import Construct

from guardrails.namespace import NAMESPACE
from guardrails.rollout import settings as rollout_settings
from guardrails.rollout.state import ENDED_EXECUTIONS
from infra.config import EnvironmentConfig
from infra.dead_letters import DeadLetterQueue
from infra.encrypted_logs import EncryptedLogs
from infra.environment.model_role import DATA_CAPTURE_PREFIX
from infra.rollout.definition import rollout_definition, state_machine_timeout
from infra.rollout.functions import RolloutFunctions, replay_step
from infra.rollout.permissions import RolloutPermissions
from infra.rollout.resources import StatefulResources
from infra.state_machine import LoggedStateMachine


class GuardedRollout(Construct):
    """Start, deploy, judge every interval, then promote or roll back; any failure is recorded.

    The state machine owns which endpoint config the endpoint serves, creates the endpoint with
    the first approved model, and records what serves in the serving-model parameter; see
    docs/architecture.md. It is named after the environment
    (`EnvironmentConfig.rollout_state_machine_name`): the endpoint stack, deployed before this
    one, starts it by that name. Executions that time out, are aborted or fail unrecorded are handed
    by a rule to ExecutionEnded, which starts a clean-up execution; what the rule or that
    function could not deliver lands in a dead-letter queue that pages on-call.
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        config: EnvironmentConfig,
        stateful: StatefulResources,
        rollback_alarms: Sequence[cloudwatch.IAlarm],
    ) -> None:
        super().__init__(scope, id_)
        table, topic, released = stateful.table, stateful.topic, stateful.released
        stack = cdk.Stack.of(self)
        endpoint_name = config.endpoint_name
        # Log groups need a key whose policy admits CloudWatch Logs; the environment's key
        # lives in the stateful stack, and editing its policy from here would tie the stacks
        # in a cycle.
        self.logs = EncryptedLogs(
            self,
            "Logs",
            description=f"Guardrails rollout logs of {endpoint_name}",
            retain=config.production,
        )
        service = f"rollout-{config.name}"  # Powertools metrics per environment
        environment = {
            **config.rollout_environment(),
            rollout_settings.TABLE_NAME: table.table_name,
            rollout_settings.TOPIC_ARN: topic.topic_arn,
            rollout_settings.MODEL_ROLE_ARN: stateful.model_role.role_arn,
            rollout_settings.MODEL_PACKAGE_GROUP: released.model_package_group_name,
            rollout_settings.RELEASED_BUCKET: released.bucket_name,
            rollout_settings.SERVING_MODEL_PARAMETER: stateful.serving_model.parameter_name,
            rollout_settings.KMS_KEY_ARN: stateful.key.key_arn,
            rollout_settings.DATA_CAPTURE_URI: stateful.bucket.s3_url_for_object(
                f"{DATA_CAPTURE_PREFIX}/{endpoint_name}"
            ),
            rollout_settings.ROLLBACK_ALARM_NAMES: stack.to_json_string(
                [alarm.alarm_name for alarm in rollback_alarms]
            ),
            "POWERTOOLS_SERVICE_NAME": service,
            "POWERTOOLS_METRICS_NAMESPACE": NAMESPACE,
        }
        permissions = RolloutPermissions(
            self, endpoint_name=endpoint_name, stateful=stateful, rollback_alarms=rollback_alarms
        )
        self.dead_letters = DeadLetterQueue(
            self,
            "DeadLetters",
            purpose=f"the rollout of {endpoint_name}: ended executions not cleaned up",
            topic=topic,
        )
        functions = RolloutFunctions(
            self,
            "Functions",
            environment=environment,
            endpoint_name=endpoint_name,
            permissions=permissions,
            logs=self.logs,
            dead_letter_queue=self.dead_letters.queue,
            replay=replay_step(config.judge.interval_seconds) if config.traffic.replays else None,
        )
        self.functions = functions.functions
        # Settled failure rounds, counted by the RecordFailure handler (Powertools).
        self.failed_rollouts = cloudwatch.Metric(
            namespace=NAMESPACE,
            metric_name="RolloutsFailed",
            dimensions_map={"service": service},
            statistic="Sum",
            period=cdk.Duration.minutes(5),
        )

        # The ExecutionEnded function is the rule's target below, not a state.
        invoked = [f for step, f in self.functions.items() if step != "ExecutionEnded"]
        self.state_machine = LoggedStateMachine(
            self,
            "StateMachine",
            log_group_id="StateMachineLogs",
            state_machine_name=config.rollout_state_machine_name,
            logs=self.logs,
            comment=f"Guarded rollout of a new model to {endpoint_name}",
            definition=rollout_definition(self, config=config, functions=dict(self.functions)),
            timeout=state_machine_timeout(config),
            invoked_functions=invoked,
        ).state_machine
        # A timed-out or aborted execution runs no Catch, and a failed one may not have
        # recorded its failure: ExecutionEnded checks, and starts a clean-up execution.
        ended = self.functions["ExecutionEnded"]
        self.state_machine.grant_start_execution(ended)
        events.Rule(
            self,
            "ExecutionEndedRule",
            description=f"Timed-out, aborted or failed rollouts of {endpoint_name}",
            event_pattern=events.EventPattern(
                source=["aws.states"],
                detail_type=["Step Functions Execution Status Change"],
                detail={
                    "stateMachineArn": [self.state_machine.state_machine_arn],
                    "status": list(ENDED_EXECUTIONS),
                },
            ),
            targets=[
                targets.LambdaFunction(
                    ended,
                    retry_attempts=4,
                    max_event_age=cdk.Duration.hours(2),
                    dead_letter_queue=self.dead_letters.queue,
                )
            ],
        )
