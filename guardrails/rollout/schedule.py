"""When SageMaker moves traffic in a native canary or linear update, and when the rollout vetoes.

Pure. SageMaker shifts more traffic to the new fleet every `wait_interval_seconds` once the
first step takes traffic, whatever the judge thinks; a "continue" verdict holds nothing. So the
rollout gives SageMaker a veto instead (docs/architecture.md, "Undecided never means go"):
unless the judge has said promote at the current traffic step early enough before the next
shift, the rollout publishes the rollback verdict, and keeps publishing it until SageMaker has
rolled back. Shift times here are the earliest SageMaker can fire (each shift itself takes a
little time), so the veto is early rather than late.

The timing constants the state machine shares with the steps live here too.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from guardrails.rollout.settings import DeploymentSettings, JudgeSettings

STEPPED_STRATEGIES = ("canary", "linear")  # native strategies that shift traffic on a timer
# While a rollout holds a rollback verdict it republishes it this often; the VerdictAlarm
# (one breaching minute of the last VERDICT_ALARM_MINUTES) cannot clear between two
# publications, even when a late round skips a minute.
HOLD_INTERVAL_SECONDS = 60
VERDICT_ALARM_MINUTES = 3
# From a published verdict to SageMaker acting on it: the alarm's one-minute period, its
# evaluation, and SageMaker's own look at the alarm.
ALARM_REACTION_SECONDS = 120
# CloudWatch shows a minute's metrics a minute or two after it ends: a fleet that took its
# first requests this long ago may not show them yet.
METRICS_DELAY_SECONDS = 180
# EndpointBusy retries wait 30 s growing to this (the state machine's retry of waiting steps).
BUSY_MAX_DELAY_SECONDS = 300
# Provisioning a new fleet before any guardrail step starts (SageMaker does not say how long).
PROVISIONING_ALLOWANCE_SECONDS = 1800


@dataclass(frozen=True)
class TrafficStep:
    """One traffic step of a native update: the candidate's share and when it changes."""

    index: int
    percent: int  # the new fleet's share of the traffic, in percent
    starts_at: datetime
    shift_at: datetime | None  # SageMaker's next shift (None: the new fleet has it all)


def step_percents(deployment: DeploymentSettings) -> tuple[int, ...]:
    """The new fleet's traffic share at each step: (10, 100) for a 10% canary, (25, 50, 75, 100)."""
    if deployment.strategy == "canary":
        return (deployment.canary_percent, 100)
    if deployment.strategy == "linear":
        size = deployment.linear_step_percent
        return tuple(min(100, size * k) for k in range(1, math.ceil(100 / size) + 1))
    return (100,)


def current_step(
    deployment: DeploymentSettings, traffic_since: datetime, now: datetime
) -> TrafficStep:
    """The step SageMaker is at `now`, given when the new fleet took its first traffic."""
    percents = step_percents(deployment)
    wait = timedelta(seconds=deployment.wait_interval_seconds)
    index = min(len(percents) - 1, max(0, int((now - traffic_since) / wait)))
    starts_at = traffic_since + index * wait
    last = index == len(percents) - 1
    return TrafficStep(
        index=index,
        percent=percents[index],
        starts_at=starts_at,
        shift_at=None if last else starts_at + wait,
    )


def veto_lead_seconds(judge: JudgeSettings) -> int:
    """How long before a shift the judge must have said promote: one more round, then the alarm."""
    return judge.interval_seconds + ALARM_REACTION_SECONDS


def veto_reason(
    deployment: DeploymentSettings,
    judge: JudgeSettings,
    *,
    traffic_since: datetime | None,
    promoted_at: datetime | None,
    now: datetime,
) -> str:
    """Why the rollout must veto SageMaker's next shift now ("" when it need not).

    It must when the next judge round would come too late to stop the shift and the judge has
    not said promote since the current step began.
    """
    if deployment.strategy not in STEPPED_STRATEGIES or traffic_since is None:
        return ""
    step = current_step(deployment, traffic_since, now)
    if step.shift_at is None:
        return ""
    if promoted_at is not None and promoted_at >= step.starts_at:
        return ""
    lead = veto_lead_seconds(judge)
    if now + timedelta(seconds=lead) < step.shift_at:
        return ""
    following = step_percents(deployment)[step.index + 1]
    seconds = max(0, round((step.shift_at - now).total_seconds()))
    return (
        f"veto: SageMaker moves the new model from {step.percent}% to {following}% of the "
        f"traffic in {seconds} s and the judge has not said promote at this step (it must, "
        f"{lead} s before the shift); the rollback verdict stops the update"
    )


def lock_lease_seconds(judge: JudgeSettings) -> int:
    """How long a rollout's lock outlives its last refresh: three of its longest pauses."""
    return 3 * max(judge.interval_seconds, BUSY_MAX_DELAY_SECONDS, HOLD_INTERVAL_SECONDS)


def protection_deadline_seconds(deployment: DeploymentSettings) -> int:
    """How long a failed rollout waits for SageMaker to put the recorded config back."""
    return deployment.max_execution_timeout_seconds + PROVISIONING_ALLOWANCE_SECONDS
