"""What every rollout step works with: settings, the AWS seams, the table and a clock."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from guardrails import records
from guardrails.notifications import RolloutEvent
from guardrails.rollout.settings import RolloutSettings
from guardrails.rollout.state import RolloutState
from guardrails.services.cloudwatch import CloudWatchSeam
from guardrails.services.sagemaker import SageMakerSeam
from guardrails.services.sns import Notifier

_ISO = "%Y-%m-%dT%H:%M:%S.%fZ"


def utc_now() -> datetime:
    return datetime.now(UTC)


def to_iso(moment: datetime) -> str:
    """The records' time format: sorts as text."""
    return moment.astimezone(UTC).strftime(_ISO)


def from_iso(text: str) -> datetime:
    return datetime.strptime(text, _ISO).replace(tzinfo=UTC)


@dataclass(frozen=True, kw_only=True)
class RolloutContext:
    """The dependencies of the steps; handlers build one per Lambda container."""

    settings: RolloutSettings
    sagemaker: SageMakerSeam
    cloudwatch: CloudWatchSeam
    notifier: Notifier
    table: Any
    clock: Callable[[], datetime] = field(default=utc_now)

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

    def find_record(self, deployment_id: str) -> records.DeploymentRecord | None:
        try:
            return records.get_deployment(self.table, deployment_id)
        except records.RecordNotFoundError:
            return None
