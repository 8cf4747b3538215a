"""The model pipeline: Source, Test, Train, Approve, then one guarded Deploy stage per environment.

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

import aws_cdk.aws_codebuild as codebuild
import aws_cdk.aws_codecommit as codecommit
import aws_cdk.aws_codepipeline as codepipeline
import aws_cdk.aws_codepipeline_actions as actions
import aws_cdk.aws_events as events
import aws_cdk.aws_events_targets as targets
import aws_cdk.aws_iam as iam
import aws_cdk.aws_s3 as s3
import aws_cdk.aws_sns as sns
import aws_cdk.aws_stepfunctions as sfn
from constructs import Construct

from guardrails.release.rules import APPROVAL_ACTION, APPROVAL_STAGE, MARK_APPROVED_ACTION
from infra.config import EnvironmentConfig, PipelineSettings
from infra.dependencies import depend_only_on_policy
from infra.environment.identities import RELEASE_ACCESS_ROLE, Placement
from infra.nag import acknowledge_granted_wildcards, acknowledge_wildcards
from infra.pipeline.approval import ApprovalStep

TRAIN_NAMESPACE = "Train"  # variables pipelines/run.py exports
APPROVAL_NAMESPACE = "Approval"  # variables the MarkApproved function outputs


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


def deploy_stage_name(deploy_env: DeployEnvironment) -> str:
    """The pipeline stage that deploys to `deploy_env`, e.g. Deploy-prod."""
    return f"Deploy-{deploy_env.config.name}"


class ModelPipeline(Construct):
    """The CodePipeline; failures are announced to on-call."""

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
    ) -> None:
        super().__init__(scope, id_)
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
        mark_approved = actions.LambdaInvokeAction(
            action_name=MARK_APPROVED_ACTION,
            lambda_=approval.function,
            user_parameters={"model_package_arn": train.variable("MODEL_PACKAGE_ARN")},
            variables_namespace=APPROVAL_NAMESPACE,
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
                        "Approve to roll it out, guarded, to "
                        f"{', '.join(d.config.name for d in deploy_environments)}."
                    ),
                    external_entity_link=train.variable("EVALUATION_REPORT_URL"),
                    run_order=1,
                ),
                mark_approved,
            ],
        )
        # Variables, resolved by CodePipeline when the stage starts: the package the Train
        # stage registered and the approver the MarkApproved action recorded.
        rollout_input = {
            "model_package_arn": train.variable("MODEL_PACKAGE_ARN"),
            "started_by": f"pipeline:{mark_approved.variable('APPROVED_BY')}",
            "reason": "approved in model pipeline execution #{codepipeline.PipelineExecutionId}",
        }
        for deploy_env in deploy_environments:
            stage_name = deploy_stage_name(deploy_env)
            self.pipeline.add_stage(
                stage_name=stage_name,
                actions=[
                    actions.StepFunctionInvokeAction(
                        action_name="GuardedRollout",
                        state_machine=sfn.StateMachine.from_state_machine_arn(
                            self, f"{stage_name}StateMachine", deploy_env.state_machine_arn
                        ),
                        # Its permissions are the environment's own (in its account).
                        role=iam.Role.from_role_arn(
                            self,
                            f"{stage_name}AccessRole",
                            deploy_env.access_role_arn,
                            mutable=False,
                        ),
                        state_machine_input=actions.StateMachineInput.literal(rollout_input),
                        execution_name_prefix=f"pipeline-{deploy_env.config.name}",
                    )
                ],
            )
        approval.allow_reading(self.pipeline)
        depend_only_on_policy(self.pipeline, self.pipeline.role)
        self._acknowledge_generated_grants()

        self.failure_rule = self.pipeline.on_state_change(
            "FailureRule",
            description="Model pipeline executions that fail, to on-call",
            event_pattern=events.EventPattern(detail={"state": ["FAILED"]}),
            target=targets.SnsTopic(
                on_call,
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
        acknowledge_granted_wildcards(
            self._action_role(APPROVAL_STAGE, APPROVAL_ACTION),
            "Publishing the approval request to the KMS-encrypted approvers' topic needs data "
            "keys of its key.",
            actions=["kms:GenerateDataKey*"],
        )
        acknowledge_granted_wildcards(
            self._action_role(APPROVAL_STAGE, MARK_APPROVED_ACTION),
            "CodePipeline's Lambda action lists functions (no resource scope) and invokes any "
            "version of the one approval function.",
            actions=["lambda:ListFunctions", "lambda:InvokeFunction"],
        )

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
        )
