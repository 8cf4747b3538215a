"""The release's steps: approve a package for the pipeline, respond to a package state change.

Each step gathers the facts through the seams, asks the rules in guardrails/release/rules.py,
and acts on the answer.
"""

from __future__ import annotations

from dataclasses import dataclass

from guardrails.release import rules
from guardrails.release.events import JobRequest, execution_name, rollout_input
from guardrails.release.rules import PackageChange, Response
from guardrails.release.settings import ReleaseSettings
from guardrails.services.codepipeline import CodePipelineSeam
from guardrails.services.sagemaker import SageMakerSeam
from guardrails.services.sns import Notifier
from guardrails.services.stepfunctions import StepFunctionsSeam


@dataclass(frozen=True, kw_only=True)
class ApprovalResult:
    """What the approval step did, for the pipeline's job result."""

    model_package_arn: str
    summary: str
    approved_by: str
    approved_at: str

    @property
    def variables(self) -> dict[str, str]:
        """The action's output variables, read by the deploy stages."""
        return {"APPROVED_BY": self.approved_by, "APPROVED_AT": self.approved_at}


def approve(
    request: JobRequest,
    *,
    group_name: str,
    codepipeline: CodePipelineSeam,
    sagemaker: SageMakerSeam,
) -> ApprovalResult:
    """Check everything, then set Approved; rules.ApprovalRefused says what was wrong."""
    job = codepipeline.job_context(request.job_id)
    approval = rules.approval_from_state(
        codepipeline.pipeline_state(job.pipeline_name), execution_id=job.execution_id
    )
    package = sagemaker.model_package(request.model_package_arn)
    already = rules.check_package(package, group_name=group_name)
    description = rules.approval_description(
        approval, pipeline_name=job.pipeline_name, execution_id=job.execution_id
    )
    if not already:
        sagemaker.mark_approved(request.model_package_arn, description)
    return ApprovalResult(
        model_package_arn=request.model_package_arn,
        summary=description if not already else f"{request.model_package_arn} already Approved",
        approved_by=approval.approver,
        approved_at=approval.approved_at,
    )


def respond(
    change: PackageChange,
    *,
    settings: ReleaseSettings,
    sagemaker: SageMakerSeam,
    stepfunctions: StepFunctionsSeam,
    notifier: Notifier,
) -> Response:
    """Look at the package and the endpoints, decide, and act."""
    package = sagemaker.model_package(change.model_package_arn)
    serving: list[str] = []
    rollback_target = None
    if change.status == rules.REJECTED and package.get("ModelApprovalStatus") == rules.REJECTED:
        serving = [
            target.environment
            for target in settings.targets
            if change.model_package_arn in sagemaker.served_packages(target.endpoint_name)
        ]
        if serving:
            rollback_target = sagemaker.latest_approved_package(
                settings.group_name, excluding=change.model_package_arn
            )
    response = rules.plan_response(
        change,
        group_name=settings.group_name,
        current_status=str(package.get("ModelApprovalStatus")),
        approval_description=package.get("ApprovalDescription"),
        serving_environments=serving,
        rollback_package_arn=rollback_target,
    )
    if response.action == rules.RELEASE:
        stepfunctions.start_execution(
            settings.release_state_machine_arn,
            execution_name(change, "release"),
            rollout_input(
                response.deploy_package_arn,
                started_by=f"console:{change.changed_by}",
                reason="approved in the SageMaker console",
            ),
        )
    elif response.action == rules.ROLLBACK:
        for target in settings.targets:
            if target.environment in response.environments:
                stepfunctions.start_execution(
                    target.state_machine_arn,
                    execution_name(change, target.environment),
                    rollout_input(
                        response.deploy_package_arn,
                        started_by=f"rejection:{change.changed_by}",
                        reason=f"model package {change.model_package_arn} was rejected",
                    ),
                )
    if response.action in rules.SUBJECTS:
        notifier.send(subject=rules.SUBJECTS[response.action], text=response.reason)
    return response
