"""The model pipeline stack (host environment) and how the app builds it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import aws_cdk as cdk
from constructs import Construct

from infra.config import (
    AppConfig,
    ConfigError,
    EnvironmentConfig,
    PipelineSettings,
)
from infra.dead_letters import FunctionErrorAlarms
from infra.encrypted_logs import EncryptedLogs
from infra.environment.identities import (
    APPROVAL_EVIDENCE_ROLE,
    PACKAGE_STATE_ROLE,
    PIPELINE_ROLE,
    Placement,
)
from infra.lambda_code import runtime_code
from infra.pipeline.approval import ApprovalStep
from infra.pipeline.builds import PipelineBuilds
from infra.pipeline.evidence import EvidenceStep
from infra.pipeline.host import PipelineHost
from infra.pipeline.model_pipeline import DeployEnvironment, ModelPipeline, PipelineSource
from infra.pipeline.package_events import PackageStateEvents
from infra.pipeline.training_roles import ModelBuildRole
from stacks.guardrails_app import EnvironmentStacks, aws_environment, tag
from stacks.stateful_stack import StatefulStack

STACK_NAME = "Guardrails-Pipeline"


def sagemaker_pipeline_name(host: EnvironmentConfig) -> str:
    """The SageMaker Pipeline's name; not a CloudFormation resource, so the code names it."""
    return f"guardrails-{host.name}-model-build"


class PipelineStack(cdk.Stack):
    """From a push on the branch to a guarded rollout in every deploy environment.

    It lives in the host environment (the tooling account); deploy environments may be other
    accounts, reached by derived names only (no CloudFormation export crosses accounts).
    `prod_approval`: the (evidence, approved) environments of the approval before prod, as
    `AppConfig.prod_approval` gives them (the rollout stacks' trust reads the same), or None.
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        settings: PipelineSettings,
        host: EnvironmentConfig,
        host_stateful: StatefulStack,
        deploy_environments: Sequence[EnvironmentConfig],
        prod_approval: tuple[EnvironmentConfig, EnvironmentConfig] | None = None,
        connection_arn: str | None = None,
        **kwargs,
    ) -> None:
        super().__init__(scope, id_, **kwargs)
        # Declared up front so grants on the stateful stacks' key stay on this side.
        self.add_stack_dependency(host_stateful)
        released = host_stateful.released_artifacts
        if host_stateful.pipeline_artifacts is None or released is None:
            raise ValueError(f"{host_stateful.stack_name} does not host the pipeline")
        placement = Placement.of(self, host)
        targets = [DeployEnvironment.of(self, env) for env in deploy_environments]
        # The approvals of what reaches production are in these logs: kept when prod is a target.
        logs = EncryptedLogs(
            self,
            "Logs",
            description="Guardrails model pipeline logs",
            retain=any(env.production for env in deploy_environments),
        )
        shared = PipelineHost(
            model_package_group_name=host_stateful.model_package_group.group_name,
            key=host_stateful.key,
            bucket=host_stateful.bucket,
            released=released,
            table=host_stateful.table,
            on_call=host_stateful.topic,
            code=runtime_code(),
            logs=logs,
        )
        build_role = ModelBuildRole(self, "ModelBuild", host=shared).role
        builds = PipelineBuilds(
            self,
            "Builds",
            settings=settings,
            sagemaker_pipeline_name=sagemaker_pipeline_name(host),
            sagemaker_role=build_role,
            host=shared,
        )
        approval = ApprovalStep(
            self, "Approval", approver_emails=settings.approver_emails, host=shared
        )
        evidence = None
        if prod_approval is not None:
            source, approves = (targets[deploy_environments.index(env)] for env in prod_approval)
            evidence = EvidenceStep(
                self,
                "ProdApprovalEvidence",
                source=source,
                approves=approves,
                role_name=placement.role_name(APPROVAL_EVIDENCE_ROLE),
                topic=approval.topic,
                host=shared,
            )
        self.model_pipeline = ModelPipeline(
            self,
            "ModelPipeline",
            source=PipelineSource(
                settings=settings,
                repository=host_stateful.repository,
                connection_arn=connection_arn,
            ),
            role_name=placement.role_name(PIPELINE_ROLE),
            test_project=builds.test_project,
            train_project=builds.train_project,
            approval=approval,
            deploy_environments=targets,
            artifact_bucket=host_stateful.pipeline_artifacts,
            on_call=host_stateful.topic,
            prod_approval=evidence,
        )
        package_events = PackageStateEvents(
            self,
            "PackageEvents",
            role_name=placement.role_name(PACKAGE_STATE_ROLE),
            deploy_environments=targets,
            host=shared,
        )
        alarmed = {
            "MarkApproved": (
                approval.function,
                "the approval did not reach the model package; the Approve stage failed and "
                "nothing was deployed",
            ),
            "PackageState": (
                package_events.function,
                "an approval or rejection made outside the pipeline may be unhandled; read "
                "the package-state dead-letter queue",
            ),
        }
        if evidence:
            alarmed["ProdApprovalEvidence"] = (
                evidence.function,
                f"the {evidence.source.config.name} evidence was not sent; the approval "
                f"before {evidence.approves.config.name} failed and it was not touched",
            )
        FunctionErrorAlarms(
            self,
            "OperationsAlarms",
            subject="Guardrails model pipeline",
            functions=alarmed,
            topic=host_stateful.topic,
        )

        cdk.CfnOutput(self, "PipelineName", value=self.model_pipeline.pipeline.pipeline_name)
        cdk.CfnOutput(self, "SageMakerPipelineName", value=sagemaker_pipeline_name(host))
        cdk.CfnOutput(self, "ApproversTopicArn", value=approval.topic.topic_arn)


def build_pipeline(
    app: cdk.App,
    config: AppConfig,
    stacks: Mapping[str, EnvironmentStacks],
    connection_arn: str | None = None,
) -> PipelineStack:
    """The Guardrails-Pipeline stack, in the host environment's account and region.

    `stacks` must hold every environment of `config.pipeline.environments`; `connection_arn`
    (from context, key `config.pipeline.connection_arn_context_key`) is required when the
    source is codeconnections. Bad input raises ConfigError naming the setting.
    """
    settings = config.pipeline
    connection_arn = config.check_pipeline(connection_arn)
    missing = [name for name in settings.environments if name not in stacks]
    if missing:
        raise ConfigError(
            "pipeline",
            f"environments {', '.join(missing)} are not selected; the pipeline needs "
            f"{', '.join(settings.environments)} (select them, or all, with -c envs=...)",
        )
    host = config.environment(settings.host_environment)
    host_stateful = stacks[host.name].stateful
    if settings.source == "codecommit" and host_stateful.repository is None:
        raise ConfigError(
            "pipeline.source", f"codecommit, but {host.name}'s stateful stack has no repository"
        )
    stack = PipelineStack(
        app,
        STACK_NAME,
        settings=settings,
        host=host,
        host_stateful=host_stateful,
        deploy_environments=[config.environment(name) for name in settings.deploy_environments],
        prod_approval=config.prod_approval(),
        connection_arn=connection_arn if settings.source == "codeconnections" else None,
        env=aws_environment(host),
        description="Guardrails: model pipeline from git push to guarded rollouts",
    )
    # Deploys after the rollouts it starts (a dependency, not a reference: accounts may differ).
    for name in settings.deploy_environments:
        stack.add_stack_dependency(stacks[name].rollout)
    tag(stack, host.name)
    return stack
