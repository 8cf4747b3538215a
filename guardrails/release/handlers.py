"""Lambda entry points of the release (`guardrails.release.handlers.<name>`).

- `approval`: the pipeline's MarkApproved action, right after the manual approval. Refuses
  (fails the job, which stops the pipeline before any deploy stage) when the approver cannot be
  found, the package is from another group or already rejected, or its artifacts changed since
  it was registered; otherwise releases its model and test data and sets it Approved with the
  release record (who approved, when, the released URIs and their SHA-256).
- `package_state`: EventBridge "SageMaker Model Package State Change" for the pipeline's group.
  An approval made outside the approval step is refused and on-call told how to release
  properly; a rejection of a package that is serving rolls those endpoints back. Each change is
  handled once however often EventBridge delivers it (Powertools idempotency, recorded in the
  deployment table). Deploy environments (maybe other accounts) are reached only as their
  release access roles (STS AssumeRole, fresh credentials for each change).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.serialization.dataclass import (
    DataclassSerializer,
)
from aws_lambda_powertools.utilities.typing import LambdaContext

from guardrails.observability import count, instrumented, logger
from guardrails.release import events, rules, steps
from guardrails.release.rules import PackageChange, Response
from guardrails.release.settings import (
    ReleaseSettings,
    ReleaseTarget,
    load_approval_settings,
    load_release_settings,
)
from guardrails.release.steps import DeployAccess
from guardrails.services import clients
from guardrails.services.codepipeline import CodePipelineSeam
from guardrails.services.s3 import S3Seam
from guardrails.services.sagemaker import SageMakerSeam
from guardrails.services.sns import Notifier
from guardrails.services.stepfunctions import StepFunctionsSeam
from guardrails.services.sts import AssumedRole
from guardrails.validation import ConfigError

# How long a handled change is remembered (the table's TTL attribute expires it).
REMEMBER_CHANGES_SECONDS = 90 * 86400
# What CloudTrail in a deploy account shows as the session of the calls made there.
SESSION_NAME = "guardrails-package-state"


@instrumented
def approval(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    try:
        job_id = events.job_id(event)
    except events.EventError as error:
        logger.error("not a CodePipeline job", extra={"reason": str(error)})
        return {"status": "refused", "reason": str(error)}
    codepipeline = CodePipelineSeam(clients.client("codepipeline"))
    try:
        result = steps.approve(
            events.parse_job(event),
            settings=load_approval_settings(os.environ),
            codepipeline=codepipeline,
            sagemaker=SageMakerSeam(clients.client("sagemaker")),
            s3=S3Seam(clients.client("s3")),
        )
    except (rules.ApprovalRefused, events.EventError, ConfigError) as refusal:
        logger.warning("approval refused", extra={"reason": str(refusal)})
        count("ApprovalsRefused")
        codepipeline.fail(job_id, f"Not approved: {refusal}")
        return {"status": "refused", "reason": str(refusal)}
    except Exception as error:
        # A job left unanswered would hang the pipeline for an hour: answer, then re-raise.
        logger.exception("approval failed")
        codepipeline.fail(job_id, f"Approval step failed: {type(error).__name__}: {error}")
        raise
    codepipeline.succeed(job_id, result.summary, result.variables)
    logger.info(
        "model package approved",
        extra={"model_package_arn": result.model_package_arn, "approver": result.approved_by},
    )
    count("PackagesApproved")
    return {
        "status": "approved",
        "model_package_arn": result.model_package_arn,
        "summary": result.summary,
        "variables": result.variables,
    }


@instrumented
def package_state(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    try:
        change = events.parse_change(event)
    except events.EventError as error:
        logger.error("unusable model package event", extra={"reason": str(error)})
        count("PackageEventsUnusable")
        return {"action": rules.IGNORE, "reason": str(error)}
    settings, respond_once, config = _release()
    if change.group_name != settings.group_name:
        count("PackageChangesIgnore")
        return {"action": rules.IGNORE, "reason": f"not in group {settings.group_name}"}
    config.register_lambda_context(context)
    response = respond_once(change=change)
    logger.info("model package change handled", extra={"response": response.__dict__})
    count(f"PackageChanges{response.action.title()}")
    return {"action": response.action, "reason": response.reason}


@cache
def _release() -> tuple[ReleaseSettings, Callable[..., Response], IdempotencyConfig]:
    """Settings, and `steps.respond` made idempotent per change, once per container."""
    settings = load_release_settings(os.environ)
    persistence = DynamoDBPersistenceLayer(
        table_name=settings.table_name,
        key_attr="pk",
        sort_key_attr="sk",
        expiry_attr="expires_at",
        boto_config=clients.RETRY_CONFIG,
    )
    # A repeated delivery of the same change (same package, status and time) is the same key.
    config = IdempotencyConfig(
        event_key_jmespath="[model_package_arn, status, changed_at]",
        expires_after_seconds=REMEMBER_CHANGES_SECONDS,
    )
    sagemaker = SageMakerSeam(clients.client("sagemaker"))
    sts = clients.client("sts")
    notifier = Notifier(clients.client("sns"), settings.topic_arn)

    def deploy_access(target: ReleaseTarget) -> DeployAccess:
        role = AssumedRole(sts, target.access_role_arn, SESSION_NAME)
        return DeployAccess(
            sagemaker=SageMakerSeam(role.client("sagemaker")),
            stepfunctions=StepFunctionsSeam(role.client("stepfunctions")),
        )

    @idempotent_function(
        data_keyword_argument="change",
        persistence_store=persistence,
        config=config,
        output_serializer=DataclassSerializer(Response),
    )
    def respond_once(change: PackageChange) -> Response:
        return steps.respond(
            change,
            settings=settings,
            sagemaker=sagemaker,
            deploy_access=deploy_access,
            notifier=notifier,
        )

    return settings, respond_once, config
