"""The release's steps: approve a package for the pipeline, respond to a package state change.

Each step gathers the facts through the seams, asks the rules in guardrails/release/rules.py,
and acts on the answer.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from botocore.exceptions import ClientError

from guardrails.release import artifacts, record, rules
from guardrails.release.events import JobRequest, execution_name, rollout_input
from guardrails.release.rules import PackageChange, Response
from guardrails.release.settings import ApprovalSettings, ReleaseSettings, ReleaseTarget
from guardrails.services.codepipeline import CodePipelineSeam
from guardrails.services.s3 import S3Seam
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
    settings: ApprovalSettings,
    codepipeline: CodePipelineSeam,
    sagemaker: SageMakerSeam,
    s3: S3Seam,
) -> ApprovalResult:
    """Check everything, release the artifacts, then set Approved with the release record.

    rules.ApprovalRefused says what was wrong. A package the approval step already approved and
    released is left as it is (a retried job); one approved any other way is released now, since
    a person just approved it here.
    """
    job = codepipeline.job_context(request.job_id)
    approval = rules.approval_from_state(
        codepipeline.pipeline_state(job.pipeline_name), execution_id=job.execution_id
    )
    package = sagemaker.model_package(request.model_package_arn)
    rules.check_package(package, group_name=settings.group_name)
    if _released(package, settings.group_name, settings.released_bucket):
        return ApprovalResult(
            model_package_arn=request.model_package_arn,
            summary=f"{request.model_package_arn} already approved and released",
            approved_by=approval.approver,
            approved_at=approval.approved_at,
        )
    released = artifacts.release(
        package, trained=settings.trained_artifacts, released_bucket=settings.released_bucket, s3=s3
    )
    description = rules.approval_description(
        approval, pipeline_name=job.pipeline_name, execution_id=job.execution_id
    )
    release_record = record.ReleaseRecord(
        approved_by=approval.approver,
        approved_at=approval.approved_at,
        model_uri=released.model_uri,
        model_sha256=released.model_sha256,
        test_data_uri=released.test_data_uri,
        test_data_sha256=released.test_data_sha256,
    )
    # The registration's metadata (AUC, test split, report) stays beside the record.
    metadata = {**package.get("CustomerMetadataProperties", {}), **release_record.metadata()}
    sagemaker.mark_approved(request.model_package_arn, description, metadata)
    return ApprovalResult(
        model_package_arn=request.model_package_arn,
        summary=f"{description}; released {released.model_uri} (SHA-256 {released.model_sha256})",
        approved_by=approval.approver,
        approved_at=approval.approved_at,
    )


def _released(package: Mapping[str, Any], group_name: str, released_bucket: str) -> bool:
    try:
        record.check_released(package, group_name=group_name, released_bucket=released_bucket)
    except record.NotReleased:
        return False
    return True


@dataclass(frozen=True)
class DeployAccess:
    """A deploy environment as the release reaches it: as its release access role."""

    sagemaker: SageMakerSeam  # reads what the endpoint serves
    stepfunctions: StepFunctionsSeam  # starts the environment's rollout


def respond(
    change: PackageChange,
    *,
    settings: ReleaseSettings,
    sagemaker: SageMakerSeam,
    deploy_access: Callable[[ReleaseTarget], DeployAccess],
    notifier: Notifier,
) -> Response:
    """Look at the package and the endpoints, decide, and act.

    `sagemaker` reads the pipeline's packages (this account); `deploy_access` reaches a deploy
    environment, whichever account it is in, at most once per target.
    """
    reach = cache(deploy_access)
    package = sagemaker.model_package(change.model_package_arn)
    current_status = str(package.get("ModelApprovalStatus"))
    release_problem = None
    if current_status == rules.APPROVED:
        try:
            record.check_released(
                package, group_name=settings.group_name, released_bucket=settings.released_bucket
            )
        except record.NotReleased as problem:
            release_problem = str(problem)
    serving: list[str] = []
    unreachable: dict[str, str] = {}
    rollback_target = None
    if change.status == rules.REJECTED and current_status == rules.REJECTED:
        for target in settings.targets:
            # One account refusing (its access role missing or changed) must not keep the
            # others serving a rejected model: look at each, act where it is seen to serve.
            try:
                served = reach(target).sagemaker.served_packages(target.endpoint_name)
            except ClientError as error:
                unreachable[target.environment] = str(error)[:300]
                continue
            if change.model_package_arn in served:
                serving.append(target.environment)
        if serving:
            rollback_target = _newest_released(
                sagemaker, settings, excluding=change.model_package_arn
            )
    response = rules.plan_response(
        change,
        group_name=settings.group_name,
        current_status=current_status,
        release_problem=release_problem,
        serving_environments=serving,
        rollback_package_arn=rollback_target,
        unreachable_environments=unreachable,
    )
    if response.action == rules.ROLLBACK:
        for target in settings.targets:
            if target.environment in response.environments:
                reach(target).stepfunctions.start_execution(
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


def _newest_released(
    sagemaker: SageMakerSeam, settings: ReleaseSettings, *, excluding: str
) -> str | None:
    """The newest Approved package the approval step released, other than `excluding`."""
    for arn in sagemaker.approved_packages(settings.group_name):
        if arn != excluding and _released(
            sagemaker.model_package(arn), settings.group_name, settings.released_bucket
        ):
            return arn
    return None
