"""What the state machine carries from step to step, parsed with explicit validation."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import MISSING, asdict, dataclass, fields, replace
from typing import Any

from guardrails.arns import parse_model_package_arn

ACTIONS = ("", "wait", "advance", "complete", "rollback")
OUTCOMES = ("", "promote", "rollback")
RESULTS = ("", "PROMOTED", "ROLLED_BACK", "FAILED")

_DEPLOYMENT_ID = re.compile(r"^[A-Za-z0-9_-]{1,80}$")
_MAX_TEXT = 1000


class EventError(ValueError):
    """An event that does not have the expected shape; the message names the field."""


class RolloutError(RuntimeError):
    """A rollout step cannot go on; the message says why."""


class RolloutRefused(RolloutError):
    """The rollout was not started (lock held, endpoint not ready, model not approved)."""


class SmokeTestFailed(RolloutError):
    """The promoted endpoint did not answer the sample request with a prediction."""


def _text(source: Mapping[str, Any], key: str, path: str, *, required: bool = True) -> str:
    value = source.get(key, "")
    if not isinstance(value, str):
        raise EventError(f"{path}.{key}: must be a string (got {type(value).__name__})")
    if required and not value.strip():
        raise EventError(f"{path}.{key}: required")
    if len(value) > _MAX_TEXT:
        raise EventError(f"{path}.{key}: at most {_MAX_TEXT} characters")
    return value


@dataclass(frozen=True, kw_only=True)
class StartRequest:
    """The state machine's input plus the execution's identity."""

    deployment_id: str  # the execution name: unique per state machine
    execution_arn: str
    model_package_arn: str
    started_by: str
    reason: str = ""

    @classmethod
    def parse(cls, event: Any) -> StartRequest:
        """From {"request": <execution input>, "deployment_id": ..., "execution_arn": ...}."""
        if not isinstance(event, Mapping):
            raise EventError("event: must be an object")
        request = event.get("request")
        if not isinstance(request, Mapping):
            raise EventError("request: must be an object with model_package_arn and started_by")
        deployment_id = _text(event, "deployment_id", "event")
        if not _DEPLOYMENT_ID.match(deployment_id):
            raise EventError("event.deployment_id: 1-80 letters, digits, hyphens or underscores")
        arn = _text(request, "model_package_arn", "request")
        if parse_model_package_arn(arn) is None:
            raise EventError(
                f"request.model_package_arn: not a versioned model package ARN ({arn!r})"
            )
        return cls(
            deployment_id=deployment_id,
            execution_arn=_text(event, "execution_arn", "event", required=False),
            model_package_arn=arn,
            started_by=_text(request, "started_by", "request"),
            reason=_text(request, "reason", "request", required=False),
        )


@dataclass(frozen=True, kw_only=True)
class RolloutState:
    """The rollout as the state machine passes it along (small: details live in the table)."""

    deployment_id: str
    model_package_arn: str
    started_by: str
    strategy: str
    model_name: str  # the SageMaker model created for the new package
    previous_config: str  # the rollback target
    new_config: str  # what the endpoint serves after a promotion
    trial_config: str = ""  # A/B and shadow: the config the candidate bakes in
    candidate_variant: str = ""  # A/B and shadow: the candidate's variant name
    reason: str = ""
    execution_arn: str = ""
    baking_since: str = ""  # ISO time the endpoint update started
    last_shift_at: str = ""  # ISO time of the last traffic shift (A/B)
    ab_step: int = 0  # index into ab_weight_steps
    rounds: int = 0  # judge rounds so far
    action: str = ""  # the judge's instruction to the state machine (ACTIONS)
    outcome: str = ""  # what Finish verifies (OUTCOMES)
    result: str = ""  # how the rollout ended (RESULTS)
    note: str = ""  # the latest reason, for the record and the Fail state

    @classmethod
    def parse(cls, raw: Any, path: str = "rollout") -> RolloutState:
        """Validate a state dict; unknown keys (e.g. Step Functions' error) are ignored."""
        if not isinstance(raw, Mapping):
            raise EventError(f"{path}: must be an object")
        values: dict[str, Any] = {}
        for item in fields(cls):
            if item.type == "int":
                value = raw.get(item.name, 0)
                if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                    raise EventError(f"{path}.{item.name}: must be a whole number >= 0")
                values[item.name] = value
            else:
                required = item.default is MISSING
                values[item.name] = _text(raw, item.name, path, required=required)
        for name, allowed in (("action", ACTIONS), ("outcome", OUTCOMES), ("result", RESULTS)):
            if values[name] not in allowed:
                raise EventError(f"{path}.{name}: must be one of {allowed} (got {values[name]!r})")
        return cls(**values)

    def to_event(self) -> dict[str, Any]:
        return asdict(self)

    def with_changes(self, **changes: Any) -> RolloutState:
        if "note" in changes:
            changes["note"] = str(changes["note"])[:_MAX_TEXT]
        return replace(self, **changes)


def step_state(event: Any) -> RolloutState:
    """The RolloutState of a step event {"rollout": {...}, ...}."""
    if not isinstance(event, Mapping):
        raise EventError("event: must be an object")
    return RolloutState.parse(event.get("rollout"))


@dataclass(frozen=True, kw_only=True)
class FinishRequest:
    """Finish: the state and the outcome the endpoint must now show ("promote" or "rollback")."""

    state: RolloutState
    expected: str

    @property
    def deployment_id(self) -> str:
        return self.state.deployment_id

    @classmethod
    def parse(cls, event: Any) -> FinishRequest:
        state = step_state(event)
        expected = event.get("expected")
        if expected not in OUTCOMES[1:]:
            raise EventError(f"expected: must be promote or rollback (got {expected!r})")
        return cls(state=state, expected=expected)


# Executions that end without running a Catch, and the error each is recorded with.
ENDED_EXECUTIONS = {"TIMED_OUT": "States.Timeout", "ABORTED": "ExecutionAborted"}


@dataclass(frozen=True, kw_only=True)
class FailureReport:
    """A rollout that failed: what the failed state held plus Step Functions' error.

    `raw_state` may be the bare execution input when the start step failed. `protect`: stop the
    candidate serving; `stuck`: tell on-call the rollout was stuck rather than failed.
    """

    deployment_id: str
    raw_state: Mapping[str, Any]
    protect: bool = True
    stuck: bool = False

    @classmethod
    def parse(cls, event: Any) -> FailureReport:
        """From RecordFailure's event {"rollout": {..., "error": {...}}, "deployment_id": ...}."""
        if not isinstance(event, Mapping):
            raise EventError("event: must be an object")
        deployment_id = event.get("deployment_id")
        raw_state = event.get("rollout")
        if not isinstance(deployment_id, str) or not deployment_id:
            raise EventError("deployment_id: required (the execution name)")
        if not isinstance(raw_state, Mapping):
            raise EventError("rollout: must be an object")
        return cls(deployment_id=deployment_id, raw_state=raw_state)

    @classmethod
    def from_execution_event(cls, event: Any) -> FailureReport:
        """From EventBridge's "Step Functions Execution Status Change" of an ended execution.

        A timed-out rollout is treated like a failure (the candidate is stopped, on-call told it
        was stuck); an aborted one was stopped by an operator, so the endpoint is left as it is.
        """
        detail = event.get("detail") if isinstance(event, Mapping) else None
        if not isinstance(detail, Mapping) or detail.get("status") not in ENDED_EXECUTIONS:
            raise EventError("detail.status: expected a TIMED_OUT or ABORTED execution event")
        name, status = str(detail.get("name", "")), detail["status"]
        if not name:
            raise EventError("detail.name: required (the execution name is the deployment id)")
        error = {
            "Error": ENDED_EXECUTIONS[status],
            "Cause": f"the rollout execution ended {status}",
        }
        timed_out = status == "TIMED_OUT"
        return cls(
            deployment_id=name, raw_state={"error": error}, protect=timed_out, stuck=timed_out
        )


@dataclass(frozen=True, kw_only=True)
class FailureSummary:
    """What RecordFailure hands the Fail state: the error and the recorded reason."""

    error: str
    cause: str

    def to_event(self) -> dict[str, str]:
        return {"error": self.error, "cause": self.cause}
