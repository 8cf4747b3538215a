"""Runs whole rollouts the way the rollout state machine does, on the simulated SageMaker.

The real steps (guardrails.rollout.steps and .ending) run in order with the state machine's
waits and retries (infra/rollout/definition.py): WaitForMetrics between judge rounds (the
Replay step instead where the environment replays, its pauses on the simulated clock), the
Rollback step retried every HOLD_INTERVAL_SECONDS while it holds the verdict, other waiting
steps retried on EndpointBusy with backoff, any other error caught into the failure rounds
(one a minute until settled). An aborted or timed-out execution is handed to ExecutionEnded,
whose clean-up execution then runs the failure rounds. Each step takes STEP_SECONDS of
simulated time; the simulated endpoint moves meanwhile.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from guardrails import records
from guardrails.rollout import ending, steps
from guardrails.rollout.context import RolloutContext
from guardrails.rollout.replay import ReplayRound, replay
from guardrails.rollout.rollback import EndpointBusy
from guardrails.rollout.schedule import BUSY_MAX_DELAY_SECONDS, HOLD_INTERVAL_SECONDS
from guardrails.rollout.state import (
    EndedExecution,
    FailureReport,
    RolloutState,
    StartRequest,
)
from tests.unit.rollout.doubles import ENDPOINT, World
from tests.unit.rollout.sagemaker_sim import SimulatedSageMaker

STEP_SECONDS = 3
STATE_MACHINE_ARN = "arn:aws:states:us-east-1:123456789012:stateMachine:Rollout"
BUSY_ATTEMPTS = 40


class Ended(Exception):
    """The execution ended without a Catch: an operator stopped it, or it timed out."""

    def __init__(self, status: str) -> None:
        super().__init__(status)
        self.status = status


class InjectedFailure(RuntimeError):
    """A step failed the way a Lambda can (a bug, an outage)."""


@dataclass
class FakeStepFunctions:
    """The Step Functions seam: remembers the clean-up executions ExecutionEnded starts."""

    started: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)

    def start_execution(self, state_machine_arn: str, name: str, payload: str) -> str:
        self.started.append((state_machine_arn, name, json.loads(payload)))
        return f"{state_machine_arn.replace(':stateMachine:', ':execution:')}:{name}"


@dataclass
class Run:
    """How a driven rollout went."""

    result: str  # the record's status at the end
    path: list[str]  # the steps that ran, in order
    lock_released_at: datetime | None
    serving_when_unlocked: str  # the endpoint's config when its lock was released
    max_candidate_share: float
    cleanups: list[tuple[str, str, dict[str, Any]]]


@dataclass
class Driver:
    """One rollout execution (and its clean-up), step by step."""

    world: World
    sim: SimulatedSageMaker
    deployment_id: str = "d-1"
    abort_after_seconds: float | None = None
    timeout_seconds: float | None = None  # the state machine's timeout
    # (step name, round) -> raise InjectedFailure in that step
    fail: Callable[[str, RolloutState | None], bool] = lambda step, state: False
    path: list[str] = field(default_factory=list)
    lock_released_at: datetime | None = None
    serving_when_unlocked: str = ""
    stepfunctions: FakeStepFunctions = field(default_factory=FakeStepFunctions)
    state: RolloutState | None = None
    endpoint_settings: str = ""  # the execution input's "endpoint" (a reshape), as JSON

    replays: list[ReplayRound] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.ctx: RolloutContext = replace(
            self.world.ctx, stepfunctions=self.stepfunctions, sleep=self.sim.advance
        )
        self.started_at = self.sim.now

    # ------------------------------------------------------------------ one execution

    def run(self) -> Run:
        try:
            self._main()
        except Ended as ended:
            self._ended(ended.status)
        except InjectedFailure as error:
            self._failure_rounds(self._report(error, self.state))
        record = records.get_deployment(self.world.table, self.deployment_id)
        return Run(
            result=record.status,
            path=self.path,
            lock_released_at=self.lock_released_at,
            serving_when_unlocked=self.serving_when_unlocked,
            max_candidate_share=self.sim.max_candidate_share,
            cleanups=self.stepfunctions.started,
        )

    def _main(self) -> RolloutState:
        request = StartRequest(
            deployment_id=self.deployment_id,
            execution_arn=f"arn:aws:states:us-east-1:123456789012:execution:Rollout:{self.deployment_id}",
            model_package_arn=self.world.approved_package,
            started_by="pipeline",
            reason="weekly retrain",
            endpoint_settings=self.endpoint_settings,
        )
        try:
            state = self._call("Start", None, lambda: steps.start(request, self.ctx))
        except (Ended, InjectedFailure):
            raise
        except Exception as error:  # a refused start: the Catch
            raise InjectedFailure(f"{type(error).__name__}: {error}") from error
        self.state = state
        self.sim.candidate_models = {state.model_name}
        state = self._step("Deploy", state, steps.deploy)
        while True:
            round_ = self._replay_or_wait(state)
            state = self._step(
                "Judge", state, lambda s, c, r=round_: steps.judge(s, c, replay=r)
            )
            if state.action == "rollback":
                state = self._retrying("Rollback", state, ending.rollback, hold=True)
                return self._retrying(
                    "FinishRollback", state, lambda s, c: ending.finish(s, "rollback", c)
                )
            if state.action == "advance":
                state = self._retrying("ShiftTraffic", state, steps.shift)
            elif state.action == "complete":
                state = self._retrying("Promote", state, steps.shift)
                state = self._retrying("SmokeTest", state, ending.smoke_test)
                return self._retrying(
                    "FinishPromotion", state, lambda s, c: ending.finish(s, "promote", c)
                )

    def _replay_or_wait(self, state: RolloutState) -> ReplayRound | None:
        """The Replay step where the environment replays (it paces itself), else the Wait."""
        if not self.ctx.settings.traffic.replays:
            self._wait(self.ctx.settings.judge.interval_seconds)
            return None
        round_: ReplayRound = self._step_any("Replay", state, lambda: replay(state, self.ctx))
        self.replays.append(round_)
        return round_

    def _step_any(self, name: str, state: RolloutState, run: Callable[[], Any]) -> Any:
        try:
            return self._call(name, state, run)
        except (Ended, InjectedFailure):
            raise
        except Exception as error:  # a step's own error: the Catch
            raise InjectedFailure(f"{type(error).__name__}: {error}") from error

    def _step(
        self,
        name: str,
        state: RolloutState,
        run: Callable[[RolloutState, RolloutContext], RolloutState],
    ) -> RolloutState:
        try:
            self.state = self._call(name, state, lambda: run(state, self.ctx))
            return self.state
        except (Ended, InjectedFailure):
            raise
        except EndpointBusy:
            raise
        except Exception as error:  # a step's own error: the Catch
            raise InjectedFailure(f"{type(error).__name__}: {error}") from error

    def _call(self, name: str, state: RolloutState | None, run: Callable[[], Any]) -> Any:
        elapsed = (self.sim.now - self.started_at).total_seconds()
        if self.abort_after_seconds is not None and elapsed >= self.abort_after_seconds:
            raise Ended("ABORTED")
        if self.timeout_seconds is not None and elapsed >= self.timeout_seconds:
            raise Ended("TIMED_OUT")
        self.path.append(name)
        if self.fail(name, state):
            self.sim.advance(STEP_SECONDS)
            raise InjectedFailure(f"{name} failed (injected)")
        result = run()
        self.sim.advance(STEP_SECONDS)
        self._watch_lock()
        return result

    def _retrying(
        self,
        name: str,
        state: RolloutState,
        run: Callable[[RolloutState, RolloutContext], RolloutState],
        *,
        hold: bool = False,
    ) -> RolloutState:
        delay = 30.0
        for _ in range(BUSY_ATTEMPTS):
            try:
                return self._step(name, state, run)
            except EndpointBusy:
                self._wait(HOLD_INTERVAL_SECONDS if hold else min(delay, BUSY_MAX_DELAY_SECONDS))
                delay *= 1.5
        raise InjectedFailure(f"{name}: EndpointBusy retries exhausted")

    def _wait(self, seconds: float) -> None:
        self.sim.advance(seconds)
        self._watch_lock()

    def _watch_lock(self) -> None:
        if (
            self.lock_released_at is None
            and records.current_lock(self.world.table, ENDPOINT) is None
        ):
            self.lock_released_at = self.sim.now
            self.serving_when_unlocked = f"{self.sim.status} on {self.sim.config_name}"

    # ------------------------------------------------------------------ failure and clean-up

    def _report(self, error: Exception, state: RolloutState | None) -> FailureReport:
        return FailureReport(
            deployment_id=self.deployment_id,
            error={
                "Error": type(error).__name__,
                "Cause": json.dumps({"errorMessage": str(error)}),
            },
            state=state.to_event() if state else {},
        )

    def _failure_rounds(self, report: FailureReport) -> None:
        """RecordFailure, then a minute's wait, until a round says it settled."""
        for _ in range(200):
            self.path.append("RecordFailure")
            round_ = ending.record_failure(report, self.ctx)
            self.sim.advance(STEP_SECONDS)
            self._watch_lock()
            if round_.settled:
                return
            self._wait(HOLD_INTERVAL_SECONDS)
            report = FailureReport.parse(round_.to_event())
        raise AssertionError("the failure rounds never settled")

    def _ended(self, status: str) -> None:
        """EventBridge hands the ended execution to ExecutionEnded, which starts a clean-up."""
        ended = EndedExecution(
            deployment_id=self.deployment_id,
            status=status,
            execution_arn=f"{STATE_MACHINE_ARN}:{self.deployment_id}",
            state_machine_arn=STATE_MACHINE_ARN,
            cleanup=False,
        )
        self.path.append("ExecutionEnded")
        result = ending.execution_ended(ended, self.ctx)
        self.sim.advance(STEP_SECONDS)
        if result.action != "cleanup_started":
            return
        _, _, payload = self.stepfunctions.started[-1]
        cleanup = payload["cleanup"]
        # The clean-up execution's first state shapes its input like the failure path's.
        self._failure_rounds(
            FailureReport.parse(
                {
                    "deployment_id": cleanup["deployment_id"],
                    "error": cleanup["error"],
                    "stuck": cleanup["stuck"],
                    "cleanup": True,
                    "state": {},
                }
            )
        )
