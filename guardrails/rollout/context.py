"""What every rollout step works with: settings, the AWS seams, the table, a clock and a pause."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from guardrails import records
from guardrails.notifications import RolloutEvent
from guardrails.rollout.schedule import lock_lease_seconds
from guardrails.rollout.settings import RolloutSettings
from guardrails.rollout.state import RolloutError, RolloutState
from guardrails.services.autoscaling import AutoscalingSeam
from guardrails.services.cloudwatch import CloudWatchSeam
from guardrails.services.sagemaker import SageMakerSeam
from guardrails.services.sns import Notifier
from guardrails.services.ssm import ServingModelParameter
from guardrails.services.stepfunctions import StepFunctionsSeam

_ISO = "%Y-%m-%dT%H:%M:%S.%fZ"


def utc_now() -> datetime:
    return datetime.now(UTC)


def pause(seconds: float) -> None:
    """Sleep (the replay's pacing); looked up at call time, so tests can stand in."""
    time.sleep(seconds)


def to_iso(moment: datetime) -> str:
    """The records' time format: sorts as text."""
    return moment.astimezone(UTC).strftime(_ISO)


def from_iso(text: str) -> datetime:
    return datetime.strptime(text, _ISO).replace(tzinfo=UTC)


class LockLost(RolloutError):
    """The rollout no longer holds its endpoint's lock (released by an operator, or taken over)."""


@dataclass(frozen=True, kw_only=True)
class RolloutContext:
    """The dependencies of the steps; handlers build one per Lambda container."""

    settings: RolloutSettings
    sagemaker: SageMakerSeam
    cloudwatch: CloudWatchSeam
    notifier: Notifier
    table: Any
    serving_model: ServingModelParameter  # written at every verified ending
    autoscaling: AutoscalingSeam  # the production variant's scalable target
    stepfunctions: StepFunctionsSeam | None = None  # the clean-up steps start and read executions
    clock: Callable[[], datetime] = field(default=utc_now)
    sleep: Callable[[float], None] = field(default=pause)  # the replay paces its requests

    def now(self) -> datetime:
        return self.clock()

    def event(self, kind: str, state: RolloutState | None = None, **facts: Any) -> RolloutEvent:
        """A notification about this endpoint, filled in from the rollout state."""
        known: dict[str, Any] = {}
        if state is not None:
            known = {
                "deployment_id": state.deployment_id,
                "model_package_arn": state.model_package_arn,
                "strategy": state.strategy,
                "started_by": state.started_by,
                "previous_config": state.previous_config,
                "new_config": state.new_config,
                "execution_arn": state.execution_arn,
            }
        return RolloutEvent(
            kind=kind,
            environment=self.settings.environment,
            region=self.settings.region,
            endpoint_name=self.settings.endpoint_name,
            at=to_iso(self.now()),
            **{**known, **facts},
        )

    def notify_once(self, event: RolloutEvent, *, key: str = "") -> bool:
        """Send `event` unless this deployment's message `key` (default: its kind) went out.

        A retried step must not page twice: the message is claimed in the table first and
        given back if sending fails, so the retry sends it.
        """
        deployment_id = event.deployment_id or f"endpoint-{event.endpoint_name}"
        notice = key or event.kind
        if not records.claim_notice(self.table, deployment_id, notice):
            return False
        try:
            self.notifier.notify(event)
        except Exception:
            records.drop_notice(self.table, deployment_id, notice)
            raise
        return True

    @property
    def lock_lease_seconds(self) -> int:
        return lock_lease_seconds(self.settings.judge)

    def acquire_lock(
        self, deployment_id: str, *, started_by: str, execution_arn: str = ""
    ) -> dict[str, Any] | None:
        """Take or renew the endpoint's lock for a lease; the expired lock taken over, if any.

        Raises records.LockHeldError while another rollout holds an unexpired lock.
        """
        return records.acquire_lock(
            self.table,
            endpoint_name=self.settings.endpoint_name,
            deployment_id=deployment_id,
            started_by=started_by,
            now=self.now(),
            lease_seconds=self.lock_lease_seconds,
            execution_arn=execution_arn,
        )

    def hold_lock(self, deployment_id: str) -> None:
        """Renew this rollout's lock, or LockLost when someone released or took it."""
        held = records.refresh_lock(
            self.table,
            endpoint_name=self.settings.endpoint_name,
            deployment_id=deployment_id,
            now=self.now(),
            lease_seconds=self.lock_lease_seconds,
        )
        if not held:
            lock = records.current_lock(self.table, self.settings.endpoint_name)
            holder = f"held by {lock.get('deployment_id')}" if lock else "released"
            raise LockLost(
                f"the lock on {self.settings.endpoint_name} is no longer this rollout's "
                f"({holder}): the rollout stops"
            )

    def decide(
        self, deployment_id: str, decision: str, reason: str, *, details: Any = None
    ) -> None:
        """Write down one of the rollout's own decisions on the deployment's record."""
        records.add_decision(
            self.table,
            deployment_id=deployment_id,
            decision=decision,
            reason=reason,
            decided_by="rollout",
            details=details,
        )

    def find_record(self, deployment_id: str) -> records.DeploymentRecord | None:
        try:
            return records.get_deployment(self.table, deployment_id)
        except records.RecordNotFoundError:
            return None
