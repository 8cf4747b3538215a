"""The model pipeline: Source, Test, Train, Approve, then one guarded Deploy stage per environment.

With `pipeline.approve_before_prod`, an Approve-<env> stage comes before the first production
environment: the Evidence action sends the previous environment's rollout evidence to the
approvers, CodePipeline's manual approval shows its summary, and RecordApproval (the approval
function again) records the approver on the package; that deploy stage and later ones start
their rollouts with that approver.

CodePipeline V2 with an artifact store of its own (KMS, in the host's stateful stack), apart from
the buckets models are read from. The Train
stage exports the registered package and its numbers as variables; the approval e-mail shows
them, the MarkApproved function approves exactly that package, and each Deploy stage starts the
environment's guarded rollout with that package and the approver, and waits for its end. A
Deploy stage acts as the environment's release access role (its account may be another one),
which trusts this pipeline's role by its derived name.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import aws_cdk.aws_codebuild as codebuild
import aws_cdk.aws_codecommit as codecommit
import aws_cdk.aws_codepipeline as codepipeline
import aws_cdk.aws_codepipeline_actions as actions
import aws_cdk.aws_events as events
import aws_cdk.aws_events_targets as targets
import aws_cdk.aws_iam as iam
import aws_cdk.aws_lambda as lambda_
import aws_cdk.aws_s3 as s3
import aws_cdk.aws_sns as sns
import aws_cdk.aws_stepfunctions as sfn
import jsii
from constructs import Construct

from guardrails.release.rules import (
    APPROVAL_ACTION,
    APPROVAL_STAGE,
    EVIDENCE_ACTION,
    MARK_APPROVED_ACTION,
    RECORD_APPROVAL_ACTION,
    promotion_stage,
)
from infra.config import EnvironmentConfig, PipelineSettings
from infra.dead_letters import DeadLetterQueue
from infra.dependencies import depend_only_on_policy
from infra.environment.identities import RELEASE_ACCESS_ROLE, Placement
from infra.nag import acknowledge_granted_wildcards, acknowledge_wildcards
from infra.pipeline.approval import ApprovalStep

if TYPE_CHECKING:
    from infra.pipeline.evidence import EvidenceStep

TRAIN_NAMESPACE = "Train"  # variables pipelines/run.py exports
APPROVAL_NAMESPACE = "Approval"  # variables the MarkApproved function outputs
PIPELINE_EXECUTION_ID = "#{codepipeline.PipelineExecutionId}"


@dataclass(frozen=True)
class DeployEnvironment:
    """An environment the pipeline deploys to: its config and how its rollout is reached.

    The ARNs are derived from config (infra/environment/identities.py), since the environment
    may be another account: its rollout state machine, and the role the pipeline assumes to run
    it (infra/rollout/release_access.py). The package-state Lambda gets the JSON view it needs
    (guardrails.release.settings.ReleaseTarget).
    """

    config: EnvironmentConfig
    state_machine_arn: str  # the environment's guarded rollout (and smoke test)
    access_role_arn: str  # what the pipeline assumes to start and follow it

    @classmethod
    def of(cls, scope: Construct, config: EnvironmentConfig) -> DeployEnvironment:
        placement = Placement.of(scope, config)
        return cls(
            config=config,
            state_machine_arn=placement.rollout_state_machine_arn,
            access_role_arn=placement.role_arn(RELEASE_ACCESS_ROLE),
        )


@dataclass(frozen=True)
class PipelineSource:
    """Where the code comes from: a CodeCommit repository or a CodeConnections connection."""

    settings: PipelineSettings
    repository: codecommit.IRepository | None = None
    connection_arn: str | None = None


@jsii.implements(actions.ICustomEventRule)
class _PushRule:
    """The push rule of a CodeCommit source action, with the target we choose."""

    def __init__(self, event_pattern: events.EventPattern, target: events.IRuleTarget) -> None:
        self._event_pattern = event_pattern
        self._target = target

    @property
    def event_pattern(self) -> events.EventPattern:
        return self._event_pattern

    @property
    def target(self) -> events.IRuleTarget:
        return self._target


def _first_approval_scope(
    deploy_environments: Sequence[DeployEnvironment], prod_approval: EvidenceStep | None
) -> str:
    """What the first approval lets the pipeline do: the environments up to a second approval."""
    names = [d.config.name for d in deploy_environments]
    if prod_approval is None:
        return f"Approve to roll it out, guarded, to {', '.join(names)}."
    approved = names.index(prod_approval.approves.config.name)
    return (
        f"Approve to roll it out, guarded, to {', '.join(names[:approved])}; "
        f"{', '.join(names[approved:])} {'waits' if len(names) - approved == 1 else 'wait'} "
        "for a second approval on "
        f"{prod_approval.source.config.name}'s evidence."
    )


def deploy_stage_name(deploy_env: DeployEnvironment) -> str:
    """The pipeline stage that deploys to `deploy_env`, e.g. Deploy-prod."""
    return f"Deploy-{deploy_env.config.name}"


def job_action(
    name: str,
    function: lambda_.IFunction,
    parameters: dict[str, str],
    *,
    namespace: str,
    run_order: int,
) -> actions.LambdaInvokeAction:
    """A Lambda action of the release (guardrails.release.events.parse_job reads `parameters`)."""
    return actions.LambdaInvokeAction(
        action_name=name,
        lambda_=function,
        user_parameters=parameters,
        variables_namespace=namespace,
        run_order=run_order,
    )


class ModelPipeline(Construct):
    """The CodePipeline; failures are announced to on-call.

    Both of its EventBridge rules (a push starts it; a failure pages on-call) keep what they
    could not deliver in a dead-letter queue that pages on-call: a lost push would leave a
    model untrained without anyone knowing, a lost failure would leave it unreported.
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        source: PipelineSource,
        role_name: str,
        test_project: codebuild.IProject,
        train_project: codebuild.IProject,
        approval: ApprovalStep,
        deploy_environments: Sequence[DeployEnvironment],
        artifact_bucket: s3.IBucket,
        on_call: sns.ITopic,
        prod_approval: EvidenceStep | None = None,
    ) -> None:
        super().__init__(scope, id_)
        self.dead_letters = DeadLetterQueue(
            self, "DeadLetters", purpose="model pipeline pushes and failures", topic=on_call
        )
        # Named: every deploy environment's release access role trusts it by this name.
        role = iam.Role(
            self,
            "PipelineRole",
            role_name=role_name,
            assumed_by=iam.ServicePrincipal("codepipeline.amazonaws.com"),
            description="Guardrails model pipeline (CodePipeline): runs its stages' actions",
        )
        self.pipeline = codepipeline.Pipeline(
            self,
            "Pipeline",
            role=role,
            pipeline_type=codepipeline.PipelineType.V2,
            artifact_bucket=artifact_bucket,
            cross_account_keys=False,
            restart_execution_on_update=False,
        )
        source_output = codepipeline.Artifact("Source")
        train_output = codepipeline.Artifact("Candidate")
        self.pipeline.add_stage(stage_name="Source", actions=[self._source(source, source_output)])
        self.pipeline.add_stage(
            stage_name="Test",
            actions=[
                actions.CodeBuildAction(
                    action_name="LintAndUnitTests", project=test_project, input=source_output
                )
            ],
        )
        train = actions.CodeBuildAction(
            action_name="TrainEvaluateRegister",
            project=train_project,
            input=source_output,
            outputs=[train_output],
            variables_namespace=TRAIN_NAMESPACE,
        )
        self.pipeline.add_stage(stage_name="Train", actions=[train])
        mark_approved = job_action(
            MARK_APPROVED_ACTION,
            approval.function,
            {"model_package_arn": train.variable("MODEL_PACKAGE_ARN")},
            namespace=APPROVAL_NAMESPACE,
            run_order=2,
        )
        self.pipeline.add_stage(
            stage_name=APPROVAL_STAGE,
            actions=[
                actions.ManualApprovalAction(
                    action_name=APPROVAL_ACTION,
                    notification_topic=approval.topic,
                    additional_information=(
                        f"Model package {train.variable('MODEL_PACKAGE_ARN')} scored AUC "
                        f"{train.variable('CANDIDATE_AUC')} and accuracy "
                        f"{train.variable('CANDIDATE_ACCURACY')} on held-out data; the approved "
                        f"model it replaces scored AUC {train.variable('BASELINE_AUC')}. "
                        f"{_first_approval_scope(deploy_environments, prod_approval)}"
                    ),
                    external_entity_link=train.variable("EVALUATION_REPORT_URL"),
                    run_order=1,
                ),
                mark_approved,
            ],
        )

        def rollout_input(approver: actions.LambdaInvokeAction) -> dict[str, str]:
            """Variables, resolved by CodePipeline when the stage starts: the package the Train
            stage registered and the approver the latest approval action recorded."""
            return {
                "model_package_arn": train.variable("MODEL_PACKAGE_ARN"),
                "started_by": f"pipeline:{approver.variable('APPROVED_BY')}",
                "reason": f"approved in model pipeline execution {PIPELINE_EXECUTION_ID}",
            }

        approver = mark_approved
        for position, deploy_env in enumerate(deploy_environments):
            stage_name = deploy_stage_name(deploy_env)
            name = deploy_env.config.name
            if prod_approval and name == prod_approval.approves.config.name:
                approver = self._approve_on_evidence(
                    prod_approval,
                    approval,
                    model_package_arn=train.variable("MODEL_PACKAGE_ARN"),
                    # CodePipeline's Step Functions action exports the execution's ARN.
                    execution_arn=f"#{{{deploy_stage_name(prod_approval.source)}.ExecutionArn}}",
                    remaining=[d.config.name for d in deploy_environments[position:]],
                )
            evidence_source = prod_approval and name == prod_approval.source.config.name
            rollout = actions.StepFunctionInvokeAction(
                action_name="GuardedRollout",
                state_machine=sfn.StateMachine.from_state_machine_arn(
                    self, f"{stage_name}StateMachine", deploy_env.state_machine_arn
                ),
                # Its permissions are the environment's own (in its account).
                role=iam.Role.from_role_arn(
                    self, f"{stage_name}AccessRole", deploy_env.access_role_arn, mutable=False
                ),
                state_machine_input=actions.StateMachineInput.literal(rollout_input(approver)),
                execution_name_prefix=f"pipeline-{name}",
                # Its variables (ExecutionArn) tell the approval where the evidence is.
                variables_namespace=stage_name if evidence_source else None,
            )
            self.pipeline.add_stage(stage_name=stage_name, actions=[rollout])
        approval.allow_reading(self.pipeline)
        depend_only_on_policy(self.pipeline, self.pipeline.role)
        self._acknowledge_generated_grants()

        self.failure_rule = self.pipeline.on_state_change(
            "FailureRule",
            description="Model pipeline executions that fail, to on-call",
            event_pattern=events.EventPattern(detail={"state": ["FAILED"]}),
            target=targets.SnsTopic(
                on_call,
                dead_letter_queue=self.dead_letters.queue,
                authorize_using_role=True,  # a role's IAM grant: no topic or key policy statement
                message=events.RuleTargetInput.from_text(
                    f"Model pipeline {events.EventField.from_path('$.detail.pipeline')} execution "
                    f"{events.EventField.from_path('$.detail.execution-id')} FAILED at "
                    f"{events.EventField.time}. Nothing was deployed past the failed stage; open "
                    "the execution in the CodePipeline console for the failed action's details."
                ),
            ),
        )
        acknowledge_wildcards(
            self.failure_rule,
            "EventBridge publishes to the KMS-encrypted on-call topic with a role of its own, "
            "which needs data keys of the topic's key (CDK's grant names the action group).",
            actions=["kms:GenerateDataKey*"],
        )

    def _acknowledge_generated_grants(self) -> None:
        """Say why the wildcards in the roles CDK makes for the pipeline and its actions exist."""
        artifacts = ["s3:GetObject*", "s3:GetBucket*", "s3:List*", "s3:DeleteObject*",
                     "s3:Abort*", "kms:GenerateDataKey*", "kms:ReEncrypt*"]  # fmt: skip
        acknowledge_granted_wildcards(
            self.pipeline.role,
            "CodePipeline reads and writes its artifacts anywhere in its artifact store, "
            "encrypted with the environment's key; CDK's grant names these action groups.",
            actions=artifacts,
        )
        acknowledge_granted_wildcards(
            self._action_role("Source", "Source"),
            "The source action writes the checked-out code as an artifact of the store.",
            actions=artifacts,
        )
        self._acknowledge_approval_stage(APPROVAL_STAGE, [MARK_APPROVED_ACTION])

    def _acknowledge_approval_stage(self, stage: str, lambda_actions: Sequence[str]) -> None:
        """The wildcards of an approval stage's manual approval and Lambda actions."""
        acknowledge_granted_wildcards(
            self._action_role(stage, APPROVAL_ACTION),
            "Publishing the approval request to the KMS-encrypted approvers' topic needs data "
            "keys of its key.",
            actions=["kms:GenerateDataKey*"],
        )
        for action in lambda_actions:
            acknowledge_granted_wildcards(
                self._action_role(stage, action),
                "CodePipeline's Lambda action lists functions (no resource scope) and invokes "
                "any version of the one function it runs.",
                actions=["lambda:ListFunctions", "lambda:InvokeFunction"],
            )

    def _approve_on_evidence(
        self,
        prod_approval: EvidenceStep,
        approval: ApprovalStep,
        *,
        model_package_arn: str,
        execution_arn: str,
        remaining: Sequence[str],
    ) -> actions.LambdaInvokeAction:
        """The Approve-<env> stage: evidence, manual approval, approver record; the record."""
        target = prod_approval.approves.config.name
        source = prod_approval.source.config.name
        stage = promotion_stage(target)
        evidence = job_action(
            EVIDENCE_ACTION,
            prod_approval.function,
            {"model_package_arn": model_package_arn, "execution_arn": execution_arn},
            namespace=f"{EVIDENCE_ACTION}-{target}",
            run_order=1,
        )
        record = job_action(
            RECORD_APPROVAL_ACTION,
            approval.function,
            {
                "model_package_arn": model_package_arn,
                "approves": target,
                "evidence": evidence.variable("DEPLOYMENT_ID"),
            },
            namespace=f"{APPROVAL_NAMESPACE}-{target}",
            run_order=3,
        )
        manual = actions.ManualApprovalAction(
            action_name=APPROVAL_ACTION,
            notification_topic=approval.topic,
            # The summary is at most 350 characters (evidence_message.SUMMARY_LIMIT): with this
            # text the resolved custom data stays within CodePipeline's 500.
            additional_information=(
                f"{evidence.variable('SUMMARY')} -- the judge's table and replay counts are in "
                f"the {source} evidence message. Approve to roll out to {', '.join(remaining)}."
            ),
            external_entity_link=evidence.variable("EXECUTION_LINK"),
            run_order=2,
        )
        self.pipeline.add_stage(stage_name=stage, actions=[evidence, manual, record])
        self._acknowledge_approval_stage(stage, [EVIDENCE_ACTION, RECORD_APPROVAL_ACTION])
        return record

    def _action_role(self, stage: str, action: str) -> iam.IRole:
        role = self.pipeline.node.find_child(stage).node.find_child(action)
        return role.node.find_child("CodePipelineActionRole")  # type: ignore[return-value]

    def _source(
        self, source: PipelineSource, output: codepipeline.Artifact
    ) -> codepipeline.IAction:
        settings = source.settings
        if settings.source == "codeconnections":
            if not source.connection_arn:
                raise ValueError("codeconnections source needs a connection ARN")
            owner, repo = settings.repository_owner_and_name.split("/", 1)
            return actions.CodeStarConnectionsSourceAction(
                action_name="Source",
                connection_arn=source.connection_arn,
                owner=owner,
                repo=repo,
                branch=settings.branch,
                output=output,
                trigger_on_push=True,
            )
        if source.repository is None:
            raise ValueError("codecommit source needs the repository")
        # Imported into this stack so the push rule lands here, not in the stateful stack
        # (which would then depend on this one).
        repository = codecommit.Repository.from_repository_name(
            self, "SourceRepository", source.repository.repository_name
        )
        return actions.CodeCommitSourceAction(
            action_name="Source",
            repository=repository,
            branch=settings.branch,
            output=output,
            trigger=actions.CodeCommitTrigger.EVENTS,
            # CodeCommit's default push rule, with a dead-letter queue for its target.
            custom_event_rule=_PushRule(
                events.EventPattern(
                    source=["aws.codecommit"],
                    resources=[repository.repository_arn],
                    detail_type=["CodeCommit Repository State Change"],
                    detail={
                        "event": ["referenceCreated", "referenceUpdated"],
                        "referenceName": [settings.branch],
                    },
                ),
                targets.CodePipeline(self.pipeline, dead_letter_queue=self.dead_letters.queue),
            ),
        )
