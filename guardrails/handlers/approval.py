"""Pipeline action "MarkApproved": after the manual approval, mark the package Approved.

Invoked by CodePipeline right after the manual approval action. Refuses (fails the job, which
stops the pipeline before any deploy stage) when the approver cannot be found, the package is
from another group or already rejected; otherwise records who approved and when on the package.
"""

from __future__ import annotations

import os
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from guardrails import approval, package_events
from guardrails.services import clients
from guardrails.services.codepipeline import CodePipelineSeam
from guardrails.services.sagemaker import SageMakerSeam

logger = Logger(service="approval")


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    try:
        job_id = approval.job_id(event)
    except approval.ApprovalRefused as refusal:
        logger.error("not a CodePipeline job", extra={"reason": str(refusal)})
        return {"status": "refused", "reason": str(refusal)}
    codepipeline = CodePipelineSeam(clients.client("codepipeline"))
    try:
        result = approve(event, os.environ.get(package_events.GROUP_NAME, ""), codepipeline)
    except approval.ApprovalRefused as refusal:
        logger.warning("approval refused", extra={"reason": str(refusal)})
        codepipeline.fail(job_id, f"Not approved: {refusal}")
        return {"status": "refused", "reason": str(refusal)}
    except Exception as error:
        # A job left unanswered would hang the pipeline for an hour: answer, then re-raise.
        logger.exception("approval failed")
        codepipeline.fail(job_id, f"Approval step failed: {type(error).__name__}: {error}")
        raise
    codepipeline.succeed(job_id, result["summary"], result["variables"])
    return {"status": "approved", **result}


def approve(event: dict[str, Any], group_name: str, codepipeline: CodePipelineSeam) -> dict:
    """Check everything, then set Approved; ApprovalRefused says what was wrong."""
    if not group_name:
        raise approval.ApprovalRefused(f"{package_events.GROUP_NAME}: not configured")
    request = approval.parse_job(event)
    job = codepipeline.job_context(request.job_id)
    approved = approval.approval_from_state(
        codepipeline.pipeline_state(job.pipeline_name), execution_id=job.execution_id
    )
    sagemaker = clients.client("sagemaker")
    package = SageMakerSeam(sagemaker).model_package(request.model_package_arn)
    already = approval.check_package(package, group_name=group_name)
    description = approval.approval_description(
        approved, pipeline_name=job.pipeline_name, execution_id=job.execution_id
    )
    if not already:
        package_events.mark_approved(sagemaker, request.model_package_arn, description)
    logger.info(
        "model package approved",
        extra={"model_package_arn": request.model_package_arn, "approver": approved.approver},
    )
    return {
        "model_package_arn": request.model_package_arn,
        "summary": description if not already else f"{request.model_package_arn} already Approved",
        "variables": {"APPROVED_BY": approved.approver, "APPROVED_AT": approved.approved_at},
    }
