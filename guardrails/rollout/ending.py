"""How a rollout ends: rollback, smoke test, verified finish, and the record of a failure."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from botocore.exceptions import ClientError

from guardrails import records
from guardrails.notifications import FAILED, PROMOTED, ROLLED_BACK, STUCK, MetricRow, metric_rows
from guardrails.rollout import endpoint_configs as shapes
from guardrails.rollout.context import RolloutContext
from guardrails.rollout.metrics import VERDICT_ROLLBACK
from guardrails.rollout.rollback import EndpointBusy, rollback_endpoint
from guardrails.rollout.state import (
    EventError,
    FailureReport,
    FailureSummary,
    RolloutState,
    SmokeTestFailed,
)

_NUMBER = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")
_CAUSE_LIMIT = 600
_FAIL_CAUSE_LIMIT = 4000  # shown in the Step Functions console


def rollback(state: RolloutState, ctx: RolloutContext) -> RolloutState:
    """Return the endpoint to the recorded previous config; a no-op when it already is."""
    s = ctx.settings
    kind = s.deployment.kind
    endpoint = ctx.sagemaker.describe_endpoint(s.endpoint_name)
    if kind == "native" and endpoint.busy:
        # Keep the verdict alarm firing: SageMaker rolls its own update back on it.
        ctx.cloudwatch.put_verdict(s.endpoint_name, VERDICT_ROLLBACK, timestamp=ctx.now())
        raise EndpointBusy(
            f"endpoint {s.endpoint_name} is {endpoint.describe()}: the rollback verdict is "
            "published and SageMaker rolls its update back; checking again shortly"
        )
    candidate_weight = endpoint.weights.get(state.candidate_variant, 0.0)
    if (
        kind == "ab"
        and endpoint.in_service
        and endpoint.config_name == state.trial_config
        and candidate_weight > 0
    ):
        # Weights change in seconds, a config in minutes: stop the candidate's traffic first.
        ctx.sagemaker.update_weights(
            s.endpoint_name, shapes.ab_weights(s.variant_name, state.candidate_variant, 0)
        )
        records.add_decision(
            ctx.table,
            deployment_id=state.deployment_id,
            decision="rollback",
            reason=f"candidate weight {candidate_weight:g} -> 0 before the config rollback",
            decided_by="rollout",
        )
        raise EndpointBusy(
            f"candidate {state.candidate_variant} gets no traffic now; returning the endpoint "
            f"to {state.previous_config} once the weight change is done"
        )
    result = rollback_endpoint(
        sagemaker=ctx.sagemaker,
        table=ctx.table,
        notifier=None,
        endpoint_name=s.endpoint_name,
        target_config=state.previous_config,
        decided_by="rollout",
        reason=state.note or "the rollout decided to roll back",
        deployment_id=state.deployment_id,
    )
    return state.with_changes(action="", outcome="rollback", note=state.note or result.message)


def smoke_test(state: RolloutState, ctx: RolloutContext) -> RolloutState:
    """The promoted endpoint is InService and answers the sample request with a prediction."""
    s = ctx.settings
    endpoint = ctx.sagemaker.describe_endpoint(s.endpoint_name)
    if endpoint.busy:
        raise EndpointBusy(f"endpoint {s.endpoint_name} is {endpoint.describe()}")
    if not endpoint.in_service:
        raise SmokeTestFailed(f"endpoint {s.endpoint_name} is {endpoint.describe()}")
    try:
        body = ctx.sagemaker.invoke(
            s.endpoint_name, s.smoke_test_payload, s.smoke_test_content_type
        )
    except ClientError as error:
        raise SmokeTestFailed(f"InvokeEndpoint with the sample payload failed: {error}") from None
    answer = body.decode("utf-8", errors="replace").strip()
    if not _NUMBER.search(answer):
        raise SmokeTestFailed(
            f"the sample request got no prediction back (response: {answer[:200]!r})"
        )
    records.add_decision(
        ctx.table,
        deployment_id=state.deployment_id,
        decision="smoke_test",
        reason=f"InvokeEndpoint answered {answer[:200]!r}",
        decided_by="rollout",
        details={"endpoint_config": endpoint.config_name, "response": answer[:1000]},
    )
    return state


def finish(state: RolloutState, expected: str, ctx: RolloutContext) -> RolloutState:
    """Verify the endpoint serves what the outcome says, end the record, unlock, notify."""
    if expected not in ("promote", "rollback"):
        raise EventError(f"expected: must be promote or rollback (got {expected!r})")
    s = ctx.settings
    endpoint = ctx.sagemaker.describe_endpoint(s.endpoint_name)
    if endpoint.busy:
        raise EndpointBusy(f"endpoint {s.endpoint_name} is {endpoint.describe()}")
    target = state.new_config if expected == "promote" else state.previous_config
    if endpoint.in_service and endpoint.config_name == target:
        status = records.STATUS_PROMOTED if expected == "promote" else records.STATUS_ROLLED_BACK
        kind = PROMOTED if expected == "promote" else ROLLED_BACK
        reason = state.note
    else:
        status, kind = records.STATUS_FAILED, FAILED
        reason = (
            f"after the {expected} the endpoint should serve {target}, but it is "
            f"{endpoint.describe()}; the update did not take"
        )
    record = records.get_deployment(ctx.table, state.deployment_id)
    records.update_deployment(ctx.table, record, status=status, reason=reason)
    records.add_decision(
        ctx.table,
        deployment_id=state.deployment_id,
        decision=status.lower(),
        reason=reason,
        decided_by="rollout",
        details={"expected_config": target, "serving": endpoint.describe()},
    )
    records.release_lock(
        ctx.table, endpoint_name=s.endpoint_name, deployment_id=state.deployment_id
    )
    ctx.notifier.notify(
        ctx.event(
            kind,
            state,
            decision=expected,
            reason=reason,
            serving_config=endpoint.config_name,
            metrics=latest_judge_rows(ctx.table, state.deployment_id),
        )
    )
    return state.with_changes(result=status, note=reason)


def latest_judge_rows(table: Any, deployment_id: str) -> tuple[MetricRow, ...]:
    """The numbers of the judge's most recent round, for the notification."""
    for decision in records.list_decisions(table, deployment_id):
        if decision.get("decided_by") == "judge":
            details = decision.get("details", {})
            return metric_rows(details.get("request", {}), details.get("response", {}))
    return ()


def record_failure(report: FailureReport, ctx: RolloutContext) -> FailureSummary:
    """Any failure: protect the endpoint, record FAILED, release the lock, notify on-call."""
    raw_state, deployment_id = report.raw_state, report.deployment_id
    raw_error = raw_state.get("error")
    error: Mapping[str, Any] = raw_error if isinstance(raw_error, Mapping) else {}
    error_name = str(error.get("Error") or "UnknownError")
    summary = f"{error_name}: {_cause(error.get('Cause'))}"
    record = ctx.find_record(deployment_id)
    active = record is not None and record.status not in records.FINAL_STATUSES
    protection = ""
    if record is not None and active:
        protection = (
            _protect(record, ctx, summary) if report.protect else "endpoint left as it is"
        )
        reason = f"{summary}; {protection}"
        records.update_deployment(ctx.table, record, status=records.STATUS_FAILED, reason=reason)
        records.add_decision(
            ctx.table,
            deployment_id=deployment_id,
            decision="failed",
            reason=reason,
            decided_by="rollout",
            details={"error": error_name, "protection": protection},
        )
    records.release_lock(
        ctx.table, endpoint_name=ctx.settings.endpoint_name, deployment_id=deployment_id
    )
    reason = f"{summary}; {protection}" if protection else summary
    facts: dict[str, Any] = {"deployment_id": deployment_id, "reason": reason, "decision": "failed"}
    if record is not None:
        facts.update(
            model_package_arn=record.model_package_arn,
            strategy=record.strategy,
            started_by=record.started_by,
            previous_config=record.previous_endpoint_config,
            new_config=record.new_endpoint_config,
            execution_arn=record.execution_arn,
        )
    elif isinstance(raw_state.get("model_package_arn"), str):
        facts["model_package_arn"] = raw_state["model_package_arn"]
    ctx.notifier.notify(ctx.event(STUCK if report.stuck else FAILED, **facts))
    return FailureSummary(error=error_name, cause=reason[:_FAIL_CAUSE_LIMIT])


def _cause(cause: Any) -> str:
    """The message of a Lambda error's Cause (a JSON document), or the text itself."""
    text = str(cause or "no details")
    try:
        parsed = json.loads(text)
    except (TypeError, ValueError):
        return text[:_CAUSE_LIMIT]
    if isinstance(parsed, Mapping) and parsed.get("errorMessage"):
        return str(parsed["errorMessage"])[:_CAUSE_LIMIT]
    return text[:_CAUSE_LIMIT]


def _protect(record: records.DeploymentRecord, ctx: RolloutContext, summary: str) -> str:
    """Best effort: stop the candidate serving. Says what it did; never raises."""
    s = ctx.settings
    candidates = {record.new_endpoint_config, record.trial_endpoint_config} - {""}
    try:
        endpoint = ctx.sagemaker.describe_endpoint(s.endpoint_name)
        if s.deployment.kind == "native" and endpoint.busy:
            ctx.cloudwatch.put_verdict(s.endpoint_name, VERDICT_ROLLBACK, timestamp=ctx.now())
            return "rollback verdict published: SageMaker rolls its update back"
        if endpoint.in_service and endpoint.config_name in candidates:
            result = rollback_endpoint(
                sagemaker=ctx.sagemaker,
                table=ctx.table,
                notifier=None,
                endpoint_name=s.endpoint_name,
                target_config=record.previous_endpoint_config,
                decided_by="rollout",
                reason=f"the rollout failed: {summary}",
                deployment_id=record.deployment_id,
            )
            return result.message
        return f"endpoint {endpoint.describe()}: left as it is"
    except Exception as error:  # noqa: BLE001 - the failure itself must still be recorded
        return f"could not protect the endpoint ({type(error).__name__}: {error}); check it now"
