"""How a rollout ends: rollback, smoke test, verified finish, and the clean-up after a failure.

A failure keeps the candidate out whatever the strategy and the phase: the failure path (and a
clean-up execution after a timed-out, aborted or failed execution) stops the candidate one
round a minute (`stop_candidate`) and releases the lock only once the endpoint is verified on
the recorded config, or tells on-call loudly that it is not. A first deploy has no recorded
config: its candidate is taken out by deleting the endpoint.

Every verified ending writes what serves to the serving-model parameter and registers the
production variant for autoscaling (`settle_serving`), before the lock is released.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from botocore.exceptions import ClientError

from guardrails import records
from guardrails.notifications import FAILED, PROMOTED, ROLLED_BACK, STUCK, MetricRow, metric_rows
from guardrails.rollout import endpoint_configs as shapes
from guardrails.rollout.context import RolloutContext, from_iso, to_iso
from guardrails.rollout.metrics import VERDICT_ROLLBACK
from guardrails.rollout.rollback import EndpointBusy, rollback_endpoint
from guardrails.rollout.schedule import protection_deadline_seconds
from guardrails.rollout.serving import ServingModel
from guardrails.rollout.settings import EndpointSettings
from guardrails.rollout.state import (
    EndedExecution,
    EndingResult,
    EventError,
    FailureReport,
    FailureRound,
    RolloutState,
    SmokeTestFailed,
    cleanup_execution_name,
)
from guardrails.services.sagemaker import EndpointView

_NUMBER = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")
_CAUSE_LIMIT = 600
_FAIL_CAUSE_LIMIT = 4000  # shown in the Step Functions console
BROKEN_STATUSES = ("Failed", "UpdateRollbackFailed", "OutOfService", "Deleting")
FAILURE_NOTICE = "failure"  # one failure message per deployment, whichever path sends it

VERIFIED = "verified"  # the endpoint serves the recorded config
WAITING = "waiting"  # on its way back; look again in a minute
LOST = "lost"  # it will not get back by itself: on-call must look
LEFT = "left"  # another rollout holds the lock: the endpoint is that rollout's now


@dataclass(frozen=True)
class Protection:
    """One look at the endpoint on its way back to the recorded config."""

    outcome: str  # VERIFIED, WAITING, LOST or LEFT
    note: str


def stop_candidate(
    ctx: RolloutContext,
    *,
    deployment_id: str,
    previous_config: str,
    candidate_configs: set[str],
    candidate_variant: str,
    reason: str,
) -> Protection:
    """Take the one step that brings the endpoint closer to `previous_config`, and say where it is.

    An update towards the candidate still running: publish the rollback verdict (again: it
    must not clear until SageMaker rolled back). A/B candidate with traffic: its weight to 0
    first (seconds, where a config takes minutes). A candidate config InService: UpdateEndpoint
    back to the recorded config, keeping the fleet's instance count. No recorded config (a
    first deploy): the endpoint is deleted (`_delete_first_deploy`).
    """
    s = ctx.settings
    if not previous_config:
        return _delete_first_deploy(ctx, deployment_id, candidate_configs)
    endpoint = ctx.sagemaker.describe_endpoint(s.endpoint_name)
    if endpoint.in_service and endpoint.config_name == previous_config:
        return Protection(VERIFIED, f"endpoint serves the recorded config {previous_config}")
    if endpoint.status in BROKEN_STATUSES:
        return Protection(LOST, f"endpoint is {endpoint.describe()}")
    if endpoint.busy:
        # An update towards the candidate carries the rollback alarms (all but a shadow's):
        # the verdict makes SageMaker roll it back. A native update that SageMaker does not
        # describe is assumed to be the candidate's.
        towards_candidate = endpoint.pending_config_name in candidate_configs or (
            s.deployment.kind == "native" and not endpoint.pending_config_name
        )
        if towards_candidate:
            ctx.cloudwatch.put_verdict(s.endpoint_name, VERDICT_ROLLBACK, timestamp=ctx.now())
            return Protection(
                WAITING,
                f"endpoint is {endpoint.describe()}: the rollback verdict is held until "
                "SageMaker rolls its update back",
            )
        return Protection(WAITING, f"endpoint is {endpoint.describe()}: waiting for SageMaker")
    if not (endpoint.in_service and endpoint.config_name in candidate_configs):
        return Protection(
            LOST,
            f"endpoint is {endpoint.describe()}, neither the recorded config {previous_config} "
            "nor the candidate's: someone else changed it, so it is left as it is",
        )
    weight = endpoint.weights.get(candidate_variant, 0.0) if candidate_variant else 0.0
    if s.deployment.kind == "ab" and weight > 0:
        ctx.sagemaker.update_weights(
            s.endpoint_name, shapes.ab_weights(s.variant_name, candidate_variant, 0)
        )
        return _rolling_back(
            ctx, deployment_id, f"candidate weight {weight:g} -> 0 before the config rollback"
        )
    result = rollback_endpoint(
        sagemaker=ctx.sagemaker,
        table=ctx.table,
        notifier=None,
        endpoint_name=s.endpoint_name,
        target_config=previous_config,
        decided_by="rollout",
        reason=reason,
        deployment_id=deployment_id,
    )
    return Protection(WAITING, result.message)


def _delete_first_deploy(
    ctx: RolloutContext, deployment_id: str, candidate_configs: set[str]
) -> Protection:
    """A first deploy is taken out by deleting its endpoint: nothing older may serve."""
    name = ctx.settings.endpoint_name
    endpoint = ctx.sagemaker.find_endpoint(name)
    if endpoint is None:
        return Protection(VERIFIED, f"endpoint {name} is deleted: nothing serves")
    if endpoint.status == "Deleting":
        return Protection(WAITING, f"endpoint {name} is being deleted")
    if endpoint.config_name not in candidate_configs:
        return Protection(
            LOST,
            f"endpoint is {endpoint.describe()}, not the first deploy's config: someone else "
            "created it, so it is left as it is",
        )
    if endpoint.busy:
        return Protection(WAITING, f"endpoint is {endpoint.describe()}: deleted once it settles")
    ctx.sagemaker.delete_endpoint(name)
    return _rolling_back(
        ctx,
        deployment_id,
        f"DeleteEndpoint {name} ({endpoint.describe()}): a first deploy has no earlier config "
        "to return to",
    )


def _rolling_back(ctx: RolloutContext, deployment_id: str, note: str) -> Protection:
    """A rollback step taken: on the record, and one more look in a minute."""
    ctx.decide(deployment_id, "rollback", note)
    return Protection(WAITING, note)


def settle_serving(
    ctx: RolloutContext,
    *,
    deployment_id: str,
    config: str,
    package: str = "",
    shape: EndpointSettings | None = None,
) -> str:
    """Record what verifiably serves (`config`, "" for no endpoint) and make it scale; a note.

    Writes the serving-model parameter (the package read from the config's model when not
    given) and registers the production variant's scalable target and policy (`shape`,
    default: the environment's endpoint settings). Idempotent: a retried step does it again.
    """
    s = ctx.settings
    if config and not package:
        packages = ctx.sagemaker.config_packages(config)
        package = next(iter(packages)) if len(packages) == 1 else ""
    ctx.serving_model.write(
        ServingModel(
            model_package_arn=package,
            endpoint_config=config,
            deployment_id=deployment_id,
            updated_at=to_iso(ctx.now()),
        )
    )
    if not config:
        return f"{ctx.serving_model.name}: no model serves"
    bounds = shape or s.endpoint
    ctx.autoscaling.register(s.endpoint_name, s.variant_name, bounds)
    return (
        f"{ctx.serving_model.name}: {config} ({package or 'package unknown'}); autoscaling "
        f"{bounds.min_capacity}-{bounds.max_capacity} instances"
    )


def rollback(state: RolloutState, ctx: RolloutContext) -> RolloutState:
    """Return the endpoint to the recorded previous config; EndpointBusy until it is there."""
    ctx.hold_lock(state.deployment_id)
    protection = stop_candidate(
        ctx,
        deployment_id=state.deployment_id,
        previous_config=state.previous_config,
        candidate_configs={state.new_config, state.trial_config} - {""},
        candidate_variant=state.candidate_variant,
        reason=state.note or "the rollout decided to roll back",
    )
    if protection.outcome == WAITING:
        # Step Functions retries every minute (HOLD_INTERVAL_SECONDS): a held verdict is
        # published again each time.
        raise EndpointBusy(protection.note)
    return state.with_changes(action="", outcome="rollback", note=state.note or protection.note)


def smoke_test(state: RolloutState, ctx: RolloutContext) -> RolloutState:
    """The promoted endpoint is InService and answers the sample request with a prediction."""
    s = ctx.settings
    ctx.hold_lock(state.deployment_id)
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
    ctx.decide(
        state.deployment_id,
        "smoke_test",
        f"InvokeEndpoint answered {answer[:200]!r}",
        details={"endpoint_config": endpoint.config_name, "response": answer[:1000]},
    )
    return state


def finish(state: RolloutState, expected: str, ctx: RolloutContext) -> RolloutState:
    """Verify the endpoint serves what the outcome says, end the record, unlock, notify.

    The lock is released only when the endpoint serves a config a rollout may start from (the
    new one after a promotion, the recorded one in any case); otherwise it stays, and on-call
    is told the endpoint is not where it should be.
    """
    if expected not in ("promote", "rollback"):
        raise EventError(f"expected: must be promote or rollback (got {expected!r})")
    s = ctx.settings
    endpoint = ctx.sagemaker.find_endpoint(s.endpoint_name)
    if endpoint is not None and (endpoint.busy or endpoint.status == "Deleting"):
        ctx.hold_lock(state.deployment_id)
        raise EndpointBusy(f"endpoint {s.endpoint_name} is {endpoint.describe()}")
    target = state.new_config if expected == "promote" else state.previous_config
    serving = settled_config(endpoint)
    safe = serving in (target, state.previous_config)
    described = endpoint.describe() if endpoint else "deleted"
    if serving == target:
        status = records.STATUS_PROMOTED if expected == "promote" else records.STATUS_ROLLED_BACK
        kind = PROMOTED if expected == "promote" else ROLLED_BACK
        reason = state.note
    else:
        status, kind = records.STATUS_FAILED, FAILED
        reason = (
            f"after the {expected} the endpoint should serve {target or 'nothing'}, but it "
            f"is {described}; the update did not take"
        )
        if not safe:
            reason += _lock_kept(ctx, state.deployment_id)
    if serving is not None and safe:
        promoted = bool(serving) and serving == state.new_config
        settled = settle_serving(
            ctx,
            deployment_id=state.deployment_id,
            config=serving,
            package=state.model_package_arn if promoted else "",
            shape=state.shape(s.endpoint) if promoted else None,
        )
        reason = f"{reason}; {settled}" if reason else settled
    record = records.get_deployment(ctx.table, state.deployment_id)
    records.update_deployment(ctx.table, record, status=status, reason=reason)
    ctx.decide(
        state.deployment_id,
        status.lower(),
        reason,
        details={"expected_config": target, "serving": described},
    )
    if safe:
        records.release_lock(
            ctx.table, endpoint_name=s.endpoint_name, deployment_id=state.deployment_id
        )
    ctx.notify_once(
        ctx.event(
            kind,
            state,
            decision=expected,
            reason=reason,
            serving_config=endpoint.config_name if endpoint else "",
            metrics=latest_judge_rows(ctx.table, state.deployment_id),
        ),
        key=FAILURE_NOTICE if kind == FAILED else kind,
    )
    return state.with_changes(result=status, note=reason)


def settled_config(endpoint: EndpointView | None) -> str | None:
    """The config an endpoint settled on: "" for no endpoint, None while it is not InService."""
    if endpoint is None:
        return ""
    return endpoint.config_name if endpoint.in_service else None


def latest_judge_rows(table: Any, deployment_id: str) -> tuple[MetricRow, ...]:
    """The numbers of the judge's most recent round, for the notification."""
    for decision in records.list_decisions(table, deployment_id):
        if decision.get("decided_by") == "judge":
            details = decision.get("details", {})
            return metric_rows(details.get("request", {}), details.get("response", {}))
    return ()


def record_failure(
    report: FailureReport, ctx: RolloutContext, *, last_round: bool = False
) -> FailureRound:
    """One round of a failed rollout's clean-up (the state machine repeats it every minute).

    Each round stops the candidate a step further. Once the endpoint serves the recorded
    config it records FAILED, releases the lock and tells on-call, with the judge's latest
    numbers; if it will not get there (or `protection_deadline_seconds` passed, or this is
    the `last_round`) it says so loudly and keeps the lock. A rollout whose lock another one
    holds is left alone.
    """
    now = ctx.now()
    report = replace(report, since=report.since or to_iso(now), rounds=report.rounds + 1)
    error_name = report.error.get("Error") or "UnknownError"
    summary = f"{error_name}: {_cause(report.error.get('Cause'))}"
    record = ctx.find_record(report.deployment_id)
    if record is None:
        return _nothing_deployed(report, ctx, summary)
    if record.status in records.FINAL_STATUSES:
        return _settled(
            report, summary + f"; the rollout had already ended {record.status}", recorded=False
        )
    if record.status != records.STATUS_FAILING:
        records.update_deployment(ctx.table, record, status=records.STATUS_FAILING, reason=summary)
        ctx.decide(
            record.deployment_id,
            "failing",
            f"{summary}; stopping the candidate before the lock is released",
        )
    holder = _take_lock(ctx, record)
    if holder:
        return _conclude(
            report, ctx, record, summary,
            Protection(LEFT, f"the lock is held by rollout {holder}: the endpoint is left to it"),
        )  # fmt: skip
    protection = _protect(ctx, record, summary)
    elapsed = (now - from_iso(report.since)).total_seconds()
    deadline = protection_deadline_seconds(ctx.settings.deployment)
    if protection.outcome == WAITING and elapsed < deadline and not last_round:
        return FailureRound(report=report, settled=False, error=error_name, cause=protection.note)
    if protection.outcome == WAITING:
        protection = Protection(LOST, f"still not back after {elapsed:.0f} s: {protection.note}")
    return _conclude(report, ctx, record, summary, protection)


def _take_lock(ctx: RolloutContext, record: records.DeploymentRecord) -> str:
    """Hold the lock while the candidate is stopped; the other holder's id when it cannot."""
    try:
        ctx.acquire_lock(
            record.deployment_id,
            started_by=record.started_by,
            execution_arn=record.execution_arn,
        )
    except records.LockHeldError as error:
        return str(error.holder.get("deployment_id", "another rollout"))
    return ""


def _protect(ctx: RolloutContext, record: records.DeploymentRecord, summary: str) -> Protection:
    """`stop_candidate` for a failed rollout; an AWS error only means: look again next round."""
    try:
        return stop_candidate(
            ctx,
            deployment_id=record.deployment_id,
            previous_config=record.previous_endpoint_config,
            candidate_configs={record.new_endpoint_config, record.trial_endpoint_config} - {""},
            candidate_variant=shapes.candidate_variant_name(
                ctx.settings.deployment.kind, ctx.settings.variant_name
            ),
            reason=f"the rollout failed: {summary}",
        )
    except Exception as error:  # noqa: BLE001 - the next round tries again; the deadline ends it
        note = f"could not act on the endpoint ({type(error).__name__}: {error})"
        return Protection(WAITING, note)


def _conclude(
    report: FailureReport,
    ctx: RolloutContext,
    record: records.DeploymentRecord,
    summary: str,
    protection: Protection,
) -> FailureRound:
    verified = protection.outcome == VERIFIED
    outcome = protection.note
    if verified:
        outcome += "; " + _settle_after_failure(ctx, record)
    if protection.outcome == LOST:
        outcome = (
            f"the endpoint is NOT verified on the recorded config "
            f"{record.previous_endpoint_config}: {protection.note}"
            + _lock_kept(ctx, record.deployment_id)
        )
    reason = f"{summary}; {outcome}"
    records.update_deployment(ctx.table, record, status=records.STATUS_FAILED, reason=reason)
    ctx.decide(
        record.deployment_id,
        "failed",
        reason,
        details={"error": dict(report.error), "verified": verified, "rounds": report.rounds},
    )
    if verified:
        records.release_lock(
            ctx.table, endpoint_name=ctx.settings.endpoint_name, deployment_id=record.deployment_id
        )
    ctx.notify_once(
        ctx.event(
            STUCK if report.stuck else FAILED,
            deployment_id=record.deployment_id,
            model_package_arn=record.model_package_arn,
            strategy=record.strategy,
            started_by=record.started_by,
            previous_config=record.previous_endpoint_config,
            new_config=record.new_endpoint_config,
            execution_arn=record.execution_arn,
            decision="failed",
            reason=reason,
            metrics=latest_judge_rows(ctx.table, record.deployment_id),
        ),
        key=FAILURE_NOTICE,
    )
    return _settled(report, reason)


def _settle_after_failure(ctx: RolloutContext, record: records.DeploymentRecord) -> str:
    """settle_serving for the recorded config; a failure to do so is told, not raised.

    The endpoint is verified back where it was: the failure must be recorded and the lock
    released whatever the parameter or autoscaling say, so their error only joins the reason.
    """
    try:
        return settle_serving(
            ctx, deployment_id=record.deployment_id, config=record.previous_endpoint_config
        )
    except Exception as error:  # noqa: BLE001 - recorded in the failure's reason for on-call
        return (
            f"the serving-model parameter or autoscaling could not be set "
            f"({type(error).__name__}: {error}): check them"
        )


def _lock_kept(ctx: RolloutContext, deployment_id: str) -> str:
    lock = records.current_lock(ctx.table, ctx.settings.endpoint_name) or {}
    if lock.get("deployment_id") != deployment_id:
        return ""
    return (
        f"; the lock stays with this rollout until {records.lock_expiry(lock) or 'released'}: "
        "check the endpoint, then `guardrails rollback` and `guardrails unlock`"
    )


def _nothing_deployed(report: FailureReport, ctx: RolloutContext, summary: str) -> FailureRound:
    """A rollout that failed before it wrote its record (e.g. a refused start)."""
    released = records.release_lock(
        ctx.table, endpoint_name=ctx.settings.endpoint_name, deployment_id=report.deployment_id
    )
    reason = summary + ("; its lock is released" if released else "")
    package = report.state.get("model_package_arn")
    ctx.notify_once(
        ctx.event(
            STUCK if report.stuck else FAILED,
            deployment_id=report.deployment_id,
            decision="failed",
            reason=reason,
            model_package_arn=package if isinstance(package, str) else "",
        ),
        key=FAILURE_NOTICE,
    )
    return _settled(report, reason)


def _settled(report: FailureReport, reason: str, *, recorded: bool = True) -> FailureRound:
    return FailureRound(
        report=report,
        settled=True,
        error=report.error.get("Error") or "UnknownError",
        cause=reason[:_FAIL_CAUSE_LIMIT],
        recorded=recorded,
    )


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


def execution_ended(ended: EndedExecution, ctx: RolloutContext) -> EndingResult:
    """A rollout execution ended TIMED_OUT, ABORTED or FAILED: make sure its failure is handled.

    Nothing to do when its record already has an ending. Otherwise a clean-up execution of the
    same state machine runs the failure rounds (a Lambda cannot wait for SageMaker for an
    hour); a clean-up that itself ended unfinished gets one last round, which tells on-call.
    """
    deployment_id = ended.deployment_id
    record = ctx.find_record(deployment_id)
    if record is None:
        round_ = _nothing_deployed(
            FailureReport(deployment_id=deployment_id, error=ended.error), ctx, _summary(ended)
        )
        return EndingResult(deployment_id=deployment_id, action="none", note=round_.cause)
    if record.status in records.FINAL_STATUSES:
        return EndingResult(
            deployment_id=deployment_id,
            action="none",
            note=f"the rollout had already ended {record.status}",
        )
    report = FailureReport(
        deployment_id=deployment_id,
        error=ended.error,
        cleanup=True,
        stuck=ended.status == "TIMED_OUT",
    )
    if ended.cleanup:
        round_ = record_failure(report, ctx, last_round=True)
        return EndingResult(deployment_id=deployment_id, action="protected", note=round_.cause)
    if ctx.stepfunctions is None:
        raise RuntimeError("execution_ended: no Step Functions seam to start the clean-up with")
    name = cleanup_execution_name(deployment_id)
    arn = ctx.stepfunctions.start_execution(
        ended.state_machine_arn,
        name,
        json.dumps(
            {
                "cleanup": {
                    "deployment_id": deployment_id,
                    "error": ended.error,
                    "stuck": report.stuck,
                }
            },
            sort_keys=True,
        ),
    )
    note = (
        f"the rollout execution ended {ended.status} while {record.status}; clean-up "
        f"execution {name} stops the candidate"
    )
    ctx.decide(
        deployment_id,
        "cleanup",
        note,
        details={"cleanup_execution_arn": arn, "ended_execution_arn": ended.execution_arn},
    )
    return EndingResult(deployment_id=deployment_id, action="cleanup_started", note=note)


def _summary(ended: EndedExecution) -> str:
    error = ended.error
    return f"{error['Error']}: {error['Cause']}"
