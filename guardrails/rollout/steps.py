"""The forward steps of a rollout: start, deploy, judge and shift traffic.

Each step takes the state, does its part through the seams in the context and returns the new
state. Every step may run twice (Step Functions retries): each checks what is already done.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from guardrails import records
from guardrails.judge import evaluate
from guardrails.notifications import STARTED, STUCK, metric_rows
from guardrails.rollout import artifacts
from guardrails.rollout import endpoint_configs as shapes
from guardrails.rollout.context import RolloutContext, from_iso, to_iso
from guardrails.rollout.deployment_config import build_deployment_config
from guardrails.rollout.metrics import (
    PERIOD_SECONDS,
    VERDICT_OK,
    VERDICT_ROLLBACK,
    fleet_plan,
    judge_request,
    metric_queries,
)
from guardrails.rollout.policy import ADVANCE, COMPLETE, ROLLBACK, Situation, next_action
from guardrails.rollout.rollback import EndpointBusy
from guardrails.rollout.state import (
    RolloutError,
    RolloutRefused,
    RolloutState,
    StartRequest,
)


def start(request: StartRequest, ctx: RolloutContext) -> RolloutState:
    """Take the lock and write the record (with the rollback target) before touching anything."""
    s = ctx.settings
    package = ctx.sagemaker.model_package(request.model_package_arn)
    artifacts.check_release(package, s)  # approved and released by the approval step, intact
    endpoint = ctx.sagemaker.describe_endpoint(s.endpoint_name)
    if not endpoint.in_service:
        raise RolloutRefused(
            f"endpoint {s.endpoint_name} is {endpoint.describe()}: a rollout starts only from "
            "InService"
        )
    try:
        records.acquire_lock(
            ctx.table,
            endpoint_name=s.endpoint_name,
            deployment_id=request.deployment_id,
            started_by=request.started_by,
        )
    except records.LockHeldError as error:
        raise RolloutRefused(f"rollout refused: {error}") from None
    try:
        state = _record_start(request, endpoint.config_name, ctx)
        ctx.notifier.notify(ctx.event(STARTED, state, reason=request.reason))
    except Exception:
        records.release_lock(
            ctx.table, endpoint_name=s.endpoint_name, deployment_id=request.deployment_id
        )
        raise
    return state


def _record_start(request: StartRequest, live_config: str, ctx: RolloutContext) -> RolloutState:
    s = ctx.settings
    kind = s.deployment.kind
    names = shapes.resource_names(s.endpoint_name, request.deployment_id)
    existing = ctx.find_record(request.deployment_id)  # a retried start finds its own record
    state = RolloutState(
        deployment_id=request.deployment_id,
        model_package_arn=request.model_package_arn,
        started_by=request.started_by,
        reason=request.reason,
        execution_arn=request.execution_arn,
        strategy=s.deployment.strategy,
        model_name=names.model,
        previous_config=existing.previous_endpoint_config if existing else live_config,
        new_config=names.new_config,
        trial_config=names.trial_config if kind != "native" else "",
        candidate_variant=shapes.candidate_variant_name(kind, s.variant_name),
    )
    if existing is None:
        records.put_deployment(
            ctx.table,
            records.DeploymentRecord(
                deployment_id=state.deployment_id,
                endpoint_name=s.endpoint_name,
                environment=s.environment,
                model_package_arn=state.model_package_arn,
                previous_endpoint_config=state.previous_config,
                new_endpoint_config=state.new_config,
                trial_endpoint_config=state.trial_config,
                strategy=state.strategy,
                started_by=state.started_by,
                reason=state.reason,
                execution_arn=state.execution_arn,
            ),
        )
        records.add_decision(
            ctx.table,
            deployment_id=state.deployment_id,
            decision="start",
            reason=state.reason or "rollout started",
            decided_by=state.started_by,
            details={"rollback_target": state.previous_config, "new_config": state.new_config},
        )
    return state


def deploy(state: RolloutState, ctx: RolloutContext) -> RolloutState:
    """Create the model and configs, then start the endpoint update with the strategy."""
    s = ctx.settings
    sagemaker = ctx.sagemaker
    kind = s.deployment.kind
    target = state.trial_config or state.new_config
    endpoint = sagemaker.describe_endpoint(s.endpoint_name)
    if target in (endpoint.config_name, endpoint.pending_config_name):
        return state if state.baking_since else _baking(state, ctx, "update already started")
    if not endpoint.in_service or endpoint.config_name != state.previous_config:
        raise RolloutError(
            f"endpoint {s.endpoint_name} is {endpoint.describe()}, not InService on "
            f"{state.previous_config} as when the rollout started: not touching it"
        )
    if kind != "shadow":
        firing = ctx.cloudwatch.alarms_in_alarm(s.rollback_alarm_names)
        if firing:
            raise RolloutError(
                f"rollback alarms in ALARM: {', '.join(firing)}; SageMaker would roll the "
                "update straight back, so it is not started"
            )
    live_config = sagemaker.endpoint_config(state.previous_config)
    if live_config is None:
        raise RolloutError(f"endpoint config {state.previous_config} does not exist")
    live_variant = shapes.production_variant(live_config, s.variant_name)
    if sagemaker.model(state.model_name) is None:
        package = sagemaker.model_package(state.model_package_arn)
        sagemaker.create_model(
            shapes.model_request(
                name=state.model_name,
                model_package_arn=state.model_package_arn,
                container=artifacts.released_container(package, s),  # bytes checked again
                role_arn=s.model_role_arn,
                live_model=sagemaker.model(live_variant["ModelName"]) or {},
                deployment_id=state.deployment_id,
            )
        )
    requests = shapes.config_requests(
        kind=kind,
        live_config=live_config,
        variant_name=s.variant_name,
        candidate_variant=state.candidate_variant,
        model_name=state.model_name,
        names=shapes.resource_names(s.endpoint_name, state.deployment_id),
        first_weight=s.deployment.ab_weight_steps[0],
        deployment_id=state.deployment_id,
    )
    for request in requests.values():
        if sagemaker.endpoint_config(request["EndpointConfigName"]) is None:
            sagemaker.create_endpoint_config(request)
    record = records.get_deployment(ctx.table, state.deployment_id)
    records.update_deployment(ctx.table, record, status=records.STATUS_DEPLOYING)
    # Shadow configs go in without alarms: they watch the production variant, which still
    # runs the old model, so they could not judge the shadow anyway.
    deployment_config = (
        None
        if kind == "shadow"
        else build_deployment_config(s.deployment, s.rollback_alarm_names)
    )
    sagemaker.update_endpoint(s.endpoint_name, target, deployment_config)
    records.add_decision(
        ctx.table,
        deployment_id=state.deployment_id,
        decision="deploy",
        reason=f"UpdateEndpoint {state.previous_config} -> {target} ({state.strategy})",
        decided_by="rollout",
        details={"target_config": target, "deployment_config": deployment_config},
    )
    return _baking(state, ctx, f"update to {target} started ({state.strategy})")


def _baking(state: RolloutState, ctx: RolloutContext, note: str) -> RolloutState:
    record = records.get_deployment(ctx.table, state.deployment_id)
    records.update_deployment(ctx.table, record, status=records.STATUS_BAKING)
    now = to_iso(ctx.now())
    return state.with_changes(baking_since=now, last_shift_at=now, note=note)


def judge(state: RolloutState, ctx: RolloutContext) -> RolloutState:
    """Read both fleets' metrics, ask the judge, record and publish its verdict, decide."""
    s = ctx.settings
    now = ctx.now()
    kind = s.deployment.kind
    endpoint = ctx.sagemaker.describe_endpoint(s.endpoint_name)
    candidate_config = state.new_config if kind == "native" else state.trial_config
    plan = fleet_plan(
        kind=kind,
        endpoint_name=s.endpoint_name,
        variant_name=s.variant_name,
        candidate_variant=state.candidate_variant,
        candidate_config=candidate_config,
    )
    since = from_iso(state.baking_since)
    window_start = since.replace(second=0, microsecond=0)
    window_end = max(now, window_start + timedelta(seconds=PERIOD_SECONDS))
    series = ctx.cloudwatch.metric_data(metric_queries(plan), start=window_start, end=window_end)
    request = judge_request(series, plan=plan, settings=s.judge)
    verdict = evaluate(request)
    steps = s.deployment.ab_weight_steps
    decided = next_action(
        Situation(
            kind=kind,
            decision=verdict["decision"],
            judge_reason=verdict["reason"],
            endpoint=endpoint,
            previous_config=state.previous_config,
            candidate_config=candidate_config,
            elapsed_seconds=(now - since).total_seconds(),
            since_shift_seconds=(
                now - from_iso(state.last_shift_at or state.baking_since)
            ).total_seconds(),
            bake_time_seconds=s.judge.bake_time_seconds,
            max_bake_time_seconds=s.judge.max_bake_time_seconds,
            wait_interval_seconds=s.deployment.wait_interval_seconds,
            at_last_step=state.ab_step + 2 >= len(steps),
        )
    )
    rollback = decided.action == ROLLBACK
    ctx.cloudwatch.put_verdict(
        s.endpoint_name, VERDICT_ROLLBACK if rollback else VERDICT_OK, timestamp=now
    )
    details: dict[str, Any] = {
        "request": request,
        "response": verdict,
        "action": decided.action,
        "action_reason": decided.reason,
        "endpoint": endpoint.describe(),
        "elapsed_seconds": round((now - since).total_seconds()),
    }
    records.add_decision(
        ctx.table,
        deployment_id=state.deployment_id,
        decision=verdict["decision"],
        reason=verdict["reason"],
        decided_by="judge",
        details=details,
    )
    record = records.get_deployment(ctx.table, state.deployment_id)
    records.update_deployment(
        ctx.table, record, last_decision=f"{verdict['decision']} -> {decided.action}"
    )
    if decided.stuck:
        ctx.notifier.notify(
            ctx.event(
                STUCK,
                state,
                decision=verdict["decision"],
                reason=decided.reason,
                serving_config=endpoint.config_name,
                metrics=metric_rows(request, verdict),
            )
        )
    outcome = {COMPLETE: "promote", ROLLBACK: "rollback"}.get(decided.action, "")
    return state.with_changes(
        action=decided.action, outcome=outcome, rounds=state.rounds + 1, note=decided.reason
    )


def shift(state: RolloutState, ctx: RolloutContext) -> RolloutState:
    """A/B: the next weight step ("advance"); A/B and shadow: the guarded final update."""
    s = ctx.settings
    kind = s.deployment.kind
    endpoint = ctx.sagemaker.describe_endpoint(s.endpoint_name)
    if state.action == ADVANCE:
        if kind != "ab":
            raise RolloutError(f"only A/B rollouts shift traffic in steps (strategy {kind})")
        if endpoint.busy:
            raise EndpointBusy(f"endpoint {s.endpoint_name} is {endpoint.describe()}")
        if endpoint.config_name != state.trial_config:
            raise RolloutError(
                f"endpoint serves {endpoint.config_name}, not the A/B config {state.trial_config}"
            )
        steps = s.deployment.ab_weight_steps
        step = state.ab_step + 1
        ctx.sagemaker.update_weights(
            s.endpoint_name, shapes.ab_weights(s.variant_name, state.candidate_variant, steps[step])
        )
        note = f"candidate weight {steps[state.ab_step]}% -> {steps[step]}%"
        _decide(ctx, state, "shift", note)
        return state.with_changes(
            ab_step=step, last_shift_at=to_iso(ctx.now()), action="", note=note
        )
    if state.action != COMPLETE:
        raise RolloutError(f"shift: nothing to do for action {state.action!r}")
    if kind == "native":
        note = "SageMaker completed its own traffic shift"
    elif state.new_config in (endpoint.config_name, endpoint.pending_config_name):
        note = f"endpoint already on its way to {state.new_config}"
    elif endpoint.busy:
        raise EndpointBusy(f"endpoint {s.endpoint_name} is {endpoint.describe()}")
    else:
        guarded = build_deployment_config(s.deployment, s.rollback_alarm_names)
        ctx.sagemaker.update_endpoint(s.endpoint_name, state.new_config, guarded)
        note = f"UpdateEndpoint {endpoint.config_name} -> {state.new_config} (guarded)"
    _decide(ctx, state, "promote", note)
    return state.with_changes(action="", outcome="promote")


def _decide(ctx: RolloutContext, state: RolloutState, decision: str, reason: str) -> None:
    records.add_decision(
        ctx.table,
        deployment_id=state.deployment_id,
        decision=decision,
        reason=reason,
        decided_by="rollout",
    )
