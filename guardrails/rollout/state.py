"""What the state machine carries from step to step, parsed with explicit validation."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import MISSING, asdict, dataclass, field, fields, replace
from typing import Any

from guardrails.arns import parse_model_package_arn
from guardrails.rollout.settings import EndpointSettings
from guardrails.validation import ConfigError, from_mapping

# The strategy recorded for a rollout that finds no endpoint and creates it: nothing serves
# yet, so there is no baseline and no rollback target (docs/architecture.md, "First deploy").
FIRST_DEPLOY = "first_deploy"
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
    # The endpoint shape to serve with, as EndpointSettings JSON; "" = the environment's. The
    # endpoint stack's reconciler sends it when a `cdk deploy` changes the shape, so the
    # change is judged like a new model while the rollout stack's own settings may lag.
    endpoint_settings: str = ""

    @classmethod
    def parse(cls, event: Any) -> StartRequest:
        """From {"request": <execution input>, "deployment_id": ..., "execution_arn": ...}.

        The execution input is {"model_package_arn", "started_by", "reason"?, "endpoint"?}.
        """
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
            endpoint_settings=_endpoint_settings(request.get("endpoint"), "request.endpoint"),
        )


def _endpoint_settings(raw: Any, path: str) -> str:
    """Canonical EndpointSettings JSON of an optional mapping; EventError naming a bad field."""
    if raw is None:
        return ""
    try:
        shape = from_mapping(EndpointSettings, raw, path=path)
    except ConfigError as error:
        raise EventError(str(error)) from None
    return endpoint_settings_json(shape)


def endpoint_settings_json(shape: EndpointSettings) -> str:
    return json.dumps(asdict(shape), sort_keys=True)


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
    traffic_since: str = ""  # native: ISO time the new fleet first took traffic, once known
    promoted_at: str = ""  # ISO time of the judge's latest promote verdict
    ab_step: int = 0  # index into ab_weight_steps
    rounds: int = 0  # judge rounds so far
    endpoint_settings: str = ""  # the shape to serve with (StartRequest); "" = the environment's
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
                if item.name == "previous_config" and raw.get("strategy") == FIRST_DEPLOY:
                    required = False  # a first deploy has no rollback target
                values[item.name] = _text(raw, item.name, path, required=required)
        for name, allowed in (("action", ACTIONS), ("outcome", OUTCOMES), ("result", RESULTS)):
            if values[name] not in allowed:
                raise EventError(f"{path}.{name}: must be one of {allowed} (got {values[name]!r})")
        if values["endpoint_settings"]:
            try:
                shape = json.loads(values["endpoint_settings"])
            except ValueError:
                shape = None
            if not isinstance(shape, Mapping):
                raise EventError(f"{path}.endpoint_settings: must be EndpointSettings as JSON")
            _endpoint_settings(shape, f"{path}.endpoint_settings")
        return cls(**values)

    @property
    def first_deploy(self) -> bool:
        """This rollout creates the endpoint: no baseline, no rollback target."""
        return self.strategy == FIRST_DEPLOY

    def shape(self, default: EndpointSettings) -> EndpointSettings:
        """The endpoint shape this rollout serves with (`default`: the environment's)."""
        if not self.endpoint_settings:
            return default
        return from_mapping(EndpointSettings, json.loads(self.endpoint_settings), path="shape")

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


# Executions that end without a recorded ending, and the error each is recorded with. A
# FAILED one usually ran its failure path already (the record says so); if not, its failure
# could not be recorded.
ENDED_EXECUTIONS = {
    "TIMED_OUT": "States.Timeout",
    "ABORTED": "ExecutionAborted",
    "FAILED": "ExecutionFailed",
}
CLEANUP_SUFFIX = "-cleanup"


def cleanup_execution_name(deployment_id: str) -> str:
    """The clean-up execution of a deployment: one per deployment, within 80 characters."""
    digest = hashlib.sha256(deployment_id.encode()).hexdigest()[:8]
    return f"{deployment_id[:60]}-{digest}{CLEANUP_SUFFIX}"


def _error(raw: Any, path: str) -> dict[str, str]:
    if not isinstance(raw, Mapping):
        raise EventError(f"{path}: must be an object with Error and Cause")
    return {"Error": str(raw.get("Error") or "UnknownError"), "Cause": str(raw.get("Cause") or "")}


@dataclass(frozen=True, kw_only=True)
class FailureReport:
    """A failed rollout being cleaned up, one round at a time (the state machine loops on it).

    `deployment_id` comes from the execution's name (or a clean-up execution's input), never
    from the failed state. `state` is what the failed state held (the bare execution input
    when Start failed). `stuck`: tell on-call the rollout was stuck rather than failed.
    """

    deployment_id: str
    error: Mapping[str, str]
    state: Mapping[str, Any] = field(default_factory=dict)
    cleanup: bool = False  # a clean-up execution, started after the rollout's own ended
    stuck: bool = False
    since: str = ""  # ISO time of the first round
    rounds: int = 0

    @classmethod
    def parse(cls, event: Any) -> FailureReport:
        """From {"deployment_id", "error": {"Error", "Cause"}, "state", ...} (the last round's)."""
        if not isinstance(event, Mapping):
            raise EventError("event: must be an object")
        deployment_id = event.get("deployment_id")
        if not isinstance(deployment_id, str) or not _DEPLOYMENT_ID.match(deployment_id):
            raise EventError("deployment_id: required, 1-80 letters, digits, - or _")
        state = event.get("state", {})
        if not isinstance(state, Mapping):
            raise EventError("state: must be an object")
        rounds = event.get("rounds", 0)
        if isinstance(rounds, bool) or not isinstance(rounds, int) or rounds < 0:
            raise EventError("rounds: must be a whole number >= 0")
        flags = {}
        for name in ("cleanup", "stuck"):
            flags[name] = event.get(name, False)
            if not isinstance(flags[name], bool):
                raise EventError(f"{name}: must be true or false")
        return cls(
            deployment_id=deployment_id,
            error=_error(event.get("error"), "error"),
            state=state,
            cleanup=flags["cleanup"],
            stuck=flags["stuck"],
            since=_text(event, "since", "event", required=False),
            rounds=rounds,
        )

    def to_event(self) -> dict[str, Any]:
        return {
            "deployment_id": self.deployment_id,
            "error": dict(self.error),
            "state": dict(self.state),
            "cleanup": self.cleanup,
            "stuck": self.stuck,
            "since": self.since,
            "rounds": self.rounds,
        }


@dataclass(frozen=True, kw_only=True)
class FailureRound:
    """What a clean-up round hands the state machine: settled, or another round after a wait."""

    report: FailureReport
    settled: bool
    error: str  # for the Fail state
    cause: str
    recorded: bool = True  # False: the rollout had already ended; nothing was written

    @property
    def deployment_id(self) -> str:
        return self.report.deployment_id

    def to_event(self) -> dict[str, Any]:
        return {
            **self.report.to_event(),
            "settled": self.settled,
            "summary": {"error": self.error, "cause": self.cause},
        }


@dataclass(frozen=True, kw_only=True)
class EndedExecution:
    """EventBridge's "Step Functions Execution Status Change" of a rollout execution that ended.

    `cleanup`: the execution was itself a clean-up (its input says which deployment).
    """

    deployment_id: str
    status: str
    execution_arn: str
    state_machine_arn: str
    cleanup: bool

    @property
    def error(self) -> dict[str, str]:
        return {
            "Error": ENDED_EXECUTIONS[self.status],
            "Cause": f"the rollout execution ended {self.status}",
        }

    @classmethod
    def parse(cls, event: Any) -> EndedExecution:
        detail = event.get("detail") if isinstance(event, Mapping) else None
        if not isinstance(detail, Mapping) or detail.get("status") not in ENDED_EXECUTIONS:
            raise EventError(
                "detail.status: expected a TIMED_OUT, ABORTED or FAILED execution event"
            )
        name = detail.get("name")
        if not isinstance(name, str) or not _DEPLOYMENT_ID.match(name):
            raise EventError("detail.name: required (the execution name is the deployment id)")
        state_machine_arn = detail.get("stateMachineArn")
        if not isinstance(state_machine_arn, str) or ":stateMachine:" not in state_machine_arn:
            raise EventError("detail.stateMachineArn: required, a state machine ARN")
        cleanup = _cleanup_input(detail.get("input"))
        if cleanup is not None and not _DEPLOYMENT_ID.match(cleanup):
            raise EventError("detail.input.cleanup.deployment_id: 1-80 letters, digits, - or _")
        return cls(
            deployment_id=cleanup or name,
            status=detail["status"],
            execution_arn=str(detail.get("executionArn", "")),
            state_machine_arn=state_machine_arn,
            cleanup=cleanup is not None,
        )


def _cleanup_input(raw: Any) -> str | None:
    """The deployment a clean-up execution's input names; None for a rollout's own input."""
    try:
        document = json.loads(raw) if isinstance(raw, str) else None
    except ValueError:
        return None
    cleanup = document.get("cleanup") if isinstance(document, Mapping) else None
    if not isinstance(cleanup, Mapping):
        return None
    return str(cleanup.get("deployment_id", ""))


@dataclass(frozen=True, kw_only=True)
class EndingResult:
    """What ExecutionEnded did about an ended execution."""

    deployment_id: str
    action: str  # "none", "cleanup_started" or "protected"
    note: str

    def to_event(self) -> dict[str, str]:
        return {"deployment_id": self.deployment_id, "action": self.action, "note": self.note}
