"""The forward steps of a rollout: start, deploy, judge and shift traffic.

Each step takes the state, does its part through the seams in the context and returns the new
state. Every step may run twice (Step Functions retries): each checks what is already done.
A rollout that finds no endpoint is a first deploy (`guardrails.rollout.first_deploy`): Deploy
creates the endpoint, the judge holds it to the limits only.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from guardrails import records
from guardrails.judge import evaluate
from guardrails.notifications import STARTED, STUCK, metric_rows
from guardrails.rollout import artifacts
from guardrails.rollout import endpoint_configs as shapes
from guardrails.rollout.context import RolloutContext, from_iso, to_iso
from guardrails.rollout.deployment_config import build_deployment_config
from guardrails.rollout.first_deploy import limits_verdict, single_fleet_plan, without_baseline
from guardrails.rollout.metrics import (
    PERIOD_SECONDS,
    VERDICT_OK,
    VERDICT_ROLLBACK,
    candidate_minutes,
    fleet_plan,
    judge_request,
    metric_queries,
)
from guardrails.rollout.policy import ADVANCE, COMPLETE, ROLLBACK, Situation, next_action
from guardrails.rollout.replay import ReplayRound
from guardrails.rollout.rollback import EndpointBusy
from guardrails.rollout.schedule import METRICS_DELAY_SECONDS, veto_reason
from guardrails.rollout.settings import EndpointSettings
from guardrails.rollout.state import (
    FIRST_DEPLOY,
    RolloutError,
    RolloutRefused,
    RolloutState,
    StartRequest,
)
from guardrails.services.sagemaker import EndpointView


def rollout_kind(state: RolloutState, ctx: RolloutContext) -> str:
    """How this rollout moves traffic: native, ab, shadow, or FIRST_DEPLOY (it creates it)."""
    return FIRST_DEPLOY if state.first_deploy else ctx.settings.deployment.kind


def start(request: StartRequest, ctx: RolloutContext) -> RolloutState:
    """Take the lock and write the record (with the rollback target) before touching anything.

    No endpoint: a first deploy, recorded as such (strategy FIRST_DEPLOY, no rollback target).
    """
    s = ctx.settings
    package = ctx.sagemaker.model_package(request.model_package_arn)
    artifacts.check_release(package, s)  # approved and released by the approval step, intact
    endpoint = ctx.sagemaker.find_endpoint(s.endpoint_name)
    if endpoint is not None and not endpoint.in_service:
        raise RolloutRefused(
            f"endpoint {s.endpoint_name} is {endpoint.describe()}: a rollout starts only from "
            "InService (or from no endpoint at all)"
        )
    if endpoint is not None:
        _refuse_unjudged_candidate(endpoint, request.deployment_id, ctx)
    try:
        taken_over = ctx.acquire_lock(
            request.deployment_id,
            started_by=request.started_by,
            execution_arn=request.execution_arn,
        )
    except records.LockHeldError as error:
        raise RolloutRefused(f"rollout refused: {error}") from None
    try:
        state = _record_start(request, endpoint.config_name if endpoint else None, ctx)
        reason = request.reason
        if taken_over:
            reason = _take_over(taken_over, state, ctx) + (f"; {reason}" if reason else "")
        ctx.notify_once(ctx.event(STARTED, state, reason=reason))
    except Exception:
        records.release_lock(
            ctx.table, endpoint_name=s.endpoint_name, deployment_id=request.deployment_id
        )
        raise
    return state


def _refuse_unjudged_candidate(
    endpoint: EndpointView, deployment_id: str, ctx: RolloutContext
) -> None:
    """A rollout never starts from another rollout's candidate that the judge did not promote.

    Its "live config" would become the new rollout's rollback target: an unjudged model.
    """
    for record in records.list_deployments(ctx.table, ctx.settings.endpoint_name, limit=5):
        candidates = {record.new_endpoint_config, record.trial_endpoint_config} - {""}
        if (
            record.deployment_id != deployment_id
            and endpoint.config_name in candidates
            and record.status != records.STATUS_PROMOTED
        ):
            raise RolloutRefused(
                f"endpoint {endpoint.name} serves {endpoint.config_name}, the candidate of "
                f"rollout {record.deployment_id} ({record.status}), which the judge never "
                f"promoted: roll it back to {record.previous_endpoint_config} first "
                "(guardrails rollback)"
            )


def _take_over(lock: dict[str, Any], state: RolloutState, ctx: RolloutContext) -> str:
    """Record that this rollout took over another's expired lock, on both rollouts."""
    previous = str(lock.get("deployment_id", ""))
    expiry = records.lock_expiry(lock) or "unknown"
    note = (
        f"took over the expired lock of rollout {previous} (started by "
        f"{lock.get('started_by')}, lease ended {expiry})"
    )
    ctx.decide(state.deployment_id, "lock_takeover", note, details={"lock": lock})
    ctx.decide(
        previous,
        "lock_taken_over",
        f"its lock expired at {expiry}; rollout {state.deployment_id} took it over",
    )
    stale = ctx.find_record(previous)
    if stale is not None and stale.status not in records.FINAL_STATUSES:
        records.update_deployment(
            ctx.table,
            stale,
            status=records.STATUS_FAILED,
            reason=f"its lock expired at {expiry} and rollout {state.deployment_id} took it over",
        )
    return note


def _record_start(
    request: StartRequest, live_config: str | None, ctx: RolloutContext
) -> RolloutState:
    """The state and, the first time, the record; `live_config` None: no endpoint yet."""
    s = ctx.settings
    names = shapes.resource_names(s.endpoint_name, request.deployment_id)
    existing = ctx.find_record(request.deployment_id)  # a retried start finds its own record
    if existing is not None:
        strategy, previous = existing.strategy, existing.previous_endpoint_config
    elif live_config is None:
        strategy, previous = FIRST_DEPLOY, ""
    else:
        strategy, previous = s.deployment.strategy, live_config
    kind = "native" if strategy == FIRST_DEPLOY else s.deployment.kind  # one config, no trial
    state = RolloutState(
        deployment_id=request.deployment_id,
        model_package_arn=request.model_package_arn,
        started_by=request.started_by,
        reason=request.reason,
        execution_arn=request.execution_arn,
        strategy=strategy,
        model_name=names.model,
        previous_config=previous,
        new_config=names.new_config,
        trial_config=names.trial_config if kind != "native" else "",
        candidate_variant=shapes.candidate_variant_name(kind, s.variant_name),
        endpoint_settings=request.endpoint_settings,
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
        first = state.first_deploy
        records.add_decision(
            ctx.table,
            deployment_id=state.deployment_id,
            decision="start",
            reason=state.reason
            or ("first deploy: no endpoint yet, so no baseline" if first else "rollout started"),
            decided_by=state.started_by,
            details={
                "rollback_target": None if first else state.previous_config,
                "new_config": state.new_config,
                "first_deploy": first,
                "endpoint_settings": state.endpoint_settings or None,
            },
        )
    return state


def deploy(state: RolloutState, ctx: RolloutContext) -> RolloutState:
    """Create the model and configs, then start the endpoint update with the strategy.

    A reshaping rollout (`state.endpoint_settings`) builds the new configs in the new shape;
    when the production variant's instance type changes, it deregisters autoscaling first
    (SageMaker refuses such an update while the variant is a scalable target); Finish
    registers it again. A first deploy creates the endpoint instead (`_create_endpoint`).
    """
    s = ctx.settings
    ctx.hold_lock(state.deployment_id)
    if state.first_deploy:
        return _create_endpoint(state, ctx)
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
    shape = state.shape(s.endpoint)
    live_type = shapes.production_variant(live_config, s.variant_name).get("InstanceType")
    if state.endpoint_settings:
        live_config = shapes.reshaped(
            live_config, shape, kms_key_arn=s.kms_key_arn, capture_uri=s.data_capture_uri
        )
    live_variant = shapes.production_variant(live_config, s.variant_name)
    instances = _fleet_size(endpoint, live_variant, ctx, shape)
    _create_model(state, ctx, live_model=sagemaker.model(live_variant["ModelName"]) or {})
    requests = shapes.config_requests(
        kind=kind,
        live_config=live_config,
        variant_name=s.variant_name,
        candidate_variant=state.candidate_variant,
        model_name=state.model_name,
        names=shapes.resource_names(s.endpoint_name, state.deployment_id),
        first_weight=s.deployment.ab_weight_steps[0],
        deployment_id=state.deployment_id,
        instance_count=instances,
    )
    for request in requests.values():
        if sagemaker.endpoint_config(request["EndpointConfigName"]) is None:
            sagemaker.create_endpoint_config(request)
    record = records.get_deployment(ctx.table, state.deployment_id)
    records.update_deployment(ctx.table, record, status=records.STATUS_DEPLOYING)
    if live_type != live_variant.get("InstanceType") and ctx.autoscaling.deregister(
        s.endpoint_name, s.variant_name
    ):
        ctx.decide(
            state.deployment_id,
            "autoscaling",
            f"deregistered {s.variant_name} from autoscaling: the instance type changes "
            f"({live_type} -> {live_variant.get('InstanceType')}); Finish registers it again",
        )
    # Shadow configs go in without alarms: they watch the production variant, which still
    # runs the old model, so they could not judge the shadow anyway.
    deployment_config = (
        None if kind == "shadow" else build_deployment_config(s.deployment, s.rollback_alarm_names)
    )
    sagemaker.update_endpoint(s.endpoint_name, target, deployment_config)
    records.add_decision(
        ctx.table,
        deployment_id=state.deployment_id,
        decision="deploy",
        reason=f"UpdateEndpoint {state.previous_config} -> {target} ({state.strategy})",
        decided_by="rollout",
        details={
            "target_config": target,
            "deployment_config": deployment_config,
            "instance_count": instances,
        },
    )
    return _baking(state, ctx, f"update to {target} started ({state.strategy})")


def _create_model(state: RolloutState, ctx: RolloutContext, *, live_model: Any) -> None:
    """The candidate's model from its released artifact, unless a retried step made it."""
    sagemaker = ctx.sagemaker
    if sagemaker.model(state.model_name) is not None:
        return
    package = sagemaker.model_package(state.model_package_arn)
    sagemaker.create_model(
        shapes.model_request(
            name=state.model_name,
            model_package_arn=state.model_package_arn,
            container=artifacts.released_container(package, ctx.settings),  # bytes checked again
            role_arn=ctx.settings.model_role_arn,
            live_model=live_model,
            deployment_id=state.deployment_id,
        )
    )


def _create_endpoint(state: RolloutState, ctx: RolloutContext) -> RolloutState:
    """A first deploy: the model, a config shaped by the settings, CreateEndpoint."""
    s = ctx.settings
    sagemaker = ctx.sagemaker
    endpoint = sagemaker.find_endpoint(s.endpoint_name)
    if endpoint is not None and endpoint.config_name == state.new_config:
        return state if state.baking_since else _baking(state, ctx, "endpoint already created")
    if endpoint is not None:
        raise RolloutError(
            f"endpoint {s.endpoint_name} appeared ({endpoint.describe()}) after this first "
            "deploy started: not touching it"
        )
    _create_model(state, ctx, live_model={})
    if sagemaker.endpoint_config(state.new_config) is None:
        sagemaker.create_endpoint_config(
            shapes.first_config_request(
                name=state.new_config,
                model_name=state.model_name,
                shape=state.shape(s.endpoint),
                kms_key_arn=s.kms_key_arn,
                capture_uri=s.data_capture_uri,
                deployment_id=state.deployment_id,
            )
        )
    record = records.get_deployment(ctx.table, state.deployment_id)
    records.update_deployment(ctx.table, record, status=records.STATUS_DEPLOYING)
    sagemaker.create_endpoint(s.endpoint_name, state.new_config)
    ctx.decide(
        state.deployment_id,
        "deploy",
        f"CreateEndpoint {s.endpoint_name} on {state.new_config} (first deploy: no baseline, "
        "no rollback target; a rollback deletes the endpoint)",
    )
    return _baking(state, ctx, f"endpoint {s.endpoint_name} is being created")


def _fleet_size(
    endpoint: EndpointView,
    live_variant: dict[str, Any],
    ctx: RolloutContext,
    bounds: EndpointSettings,
) -> int:
    """The new fleet's instances: what serves now (autoscaling's count), within the bounds.

    The live config's InitialInstanceCount is what the endpoint started with, not what it has
    now: copying it would shrink an endpoint scaled out for the whole bake.
    """
    serving = endpoint.instance_counts.get(ctx.settings.variant_name) or int(
        live_variant.get("InitialInstanceCount") or bounds.instance_count
    )
    return min(bounds.max_capacity, max(bounds.min_capacity, serving))


def _baking(state: RolloutState, ctx: RolloutContext, note: str) -> RolloutState:
    record = records.get_deployment(ctx.table, state.deployment_id)
    records.update_deployment(ctx.table, record, status=records.STATUS_BAKING)
    now = to_iso(ctx.now())
    return state.with_changes(baking_since=now, last_shift_at=now, note=note)


def judge(
    state: RolloutState, ctx: RolloutContext, *, replay: ReplayRound | None = None
) -> RolloutState:
    """Read both fleets' metrics, ask the judge, record and publish its verdict, decide.

    `replay`: the round the Replay step just sent, recorded beside the verdict.
    """
    s = ctx.settings
    now = ctx.now()
    ctx.hold_lock(state.deployment_id)
    kind = rollout_kind(state, ctx)
    endpoint = ctx.sagemaker.describe_endpoint(s.endpoint_name)
    candidate_config = state.trial_config or state.new_config
    if kind == FIRST_DEPLOY:
        plan = single_fleet_plan(endpoint_name=s.endpoint_name, variant_name=s.variant_name)
    else:
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
    if kind == FIRST_DEPLOY:
        request = without_baseline(request)
        verdict = limits_verdict(request)
    else:
        verdict = evaluate(request)
    promoted_at = to_iso(now) if verdict["decision"] == "promote" else state.promoted_at
    traffic_since = state.traffic_since
    veto = ""
    elapsed = (now - since).total_seconds()
    if kind == FIRST_DEPLOY:
        # A first deploy bakes from when its endpoint is InService: creating it takes minutes
        # in which nobody can call it, and they must not count as baking.
        traffic_since = traffic_since or (to_iso(now) if endpoint.in_service else "")
        elapsed = (now - from_iso(traffic_since)).total_seconds() if traffic_since else 0.0
    if kind == "native":
        traffic_since = _traffic_since(state, endpoint, series)
        if endpoint.busy:
            veto = veto_reason(
                s.deployment,
                s.judge,
                traffic_since=from_iso(traffic_since or _provisional_start(state, now)),
                promoted_at=from_iso(promoted_at) if promoted_at else None,
                now=now,
            )
    steps = s.deployment.ab_weight_steps
    decided = next_action(
        Situation(
            kind=kind,
            decision=verdict["decision"],
            judge_reason=verdict["reason"],
            endpoint=endpoint,
            previous_config=state.previous_config,
            candidate_config=candidate_config,
            elapsed_seconds=elapsed,
            since_shift_seconds=(
                now - from_iso(state.last_shift_at or state.baking_since)
            ).total_seconds(),
            bake_time_seconds=s.judge.bake_time_seconds,
            max_bake_time_seconds=s.judge.max_bake_time_seconds,
            wait_interval_seconds=s.deployment.wait_interval_seconds,
            at_last_step=state.ab_step + 2 >= len(steps),
            veto=veto,
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
        "elapsed_seconds": round(elapsed),
        "traffic_since": traffic_since,
        "veto": veto,
    }
    if replay is not None:
        details["replay"] = replay.to_event()
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
        ctx.notify_once(
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
        action=decided.action,
        outcome=outcome,
        rounds=state.rounds + 1,
        note=decided.reason,
        traffic_since=traffic_since,
        promoted_at=promoted_at,
    )


def _traffic_since(state: RolloutState, endpoint: EndpointView, series: Any) -> str:
    """When the new fleet first took traffic: SageMaker's word, else its first minute of data.

    "" while neither says (the fleet is still provisioned, or its first minute is not in
    CloudWatch yet).
    """
    known = [from_iso(state.traffic_since)] if state.traffic_since else []
    if endpoint.pending_config_name == state.new_config and endpoint.pending_traffic_since:
        known.append(endpoint.pending_traffic_since)
    minutes = candidate_minutes(series)
    if minutes:
        known.append(minutes[0])
    return to_iso(min(known)) if known else ""


def _provisional_start(state: RolloutState, now: datetime) -> str:
    """The earliest the new fleet may have taken traffic that CloudWatch does not show yet."""
    return to_iso(max(from_iso(state.baking_since), now - timedelta(seconds=METRICS_DELAY_SECONDS)))


def shift(state: RolloutState, ctx: RolloutContext) -> RolloutState:
    """A/B: the next weight step ("advance"); A/B and shadow: the guarded final update."""
    s = ctx.settings
    ctx.hold_lock(state.deployment_id)
    kind = rollout_kind(state, ctx)
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
        ctx.decide(state.deployment_id, "shift", note)
        return state.with_changes(
            ab_step=step, last_shift_at=to_iso(ctx.now()), action="", note=note
        )
    if state.action != COMPLETE:
        raise RolloutError(f"shift: nothing to do for action {state.action!r}")
    if kind == FIRST_DEPLOY:
        note = f"first deploy: the endpoint serves {state.new_config} since it was created"
    elif kind == "native":
        note = "SageMaker completed its own traffic shift"
    elif state.new_config in (endpoint.config_name, endpoint.pending_config_name):
        note = f"endpoint already on its way to {state.new_config}"
    elif endpoint.busy:
        raise EndpointBusy(f"endpoint {s.endpoint_name} is {endpoint.describe()}")
    else:
        guarded = build_deployment_config(s.deployment, s.rollback_alarm_names)
        ctx.sagemaker.update_endpoint(s.endpoint_name, state.new_config, guarded)
        note = f"UpdateEndpoint {endpoint.config_name} -> {state.new_config} (guarded)"
    ctx.decide(state.deployment_id, "promote", note)
    return state.with_changes(action="", outcome="promote")
