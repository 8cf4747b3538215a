"""Following one rollout to its end: its execution, its record, and each decision as it comes.

`start --wait` and `status --watch` both poll here: DescribeExecution first, then the new
decisions, so every decision written before the execution ended is shown before the ending.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from time import sleep
from typing import Any, TypeVar

import click

from guardrails import records
from guardrails.cli import render
from guardrails.cli.aws import Deployed
from guardrails.cli.errors import Failure
from guardrails.services.stepfunctions import Execution, StepFunctionsSeam

PROMOTED = records.STATUS_PROMOTED
# The rollout's Fail state for a rollback (infra/rollout/definition.py: RolledBack).
ROLLED_BACK_ERROR = "RolledBack"
STILL_RUNNING = ("RUNNING", "PENDING_REDRIVE")
DEFAULT_INTERVAL = 30  # s; the judge looks once a minute

F = TypeVar("F", bound=Callable[..., Any])


def interval_option(command: F) -> F:
    """`--interval SECONDS` between two looks at the rollout."""
    return click.option(
        "--interval",
        type=click.IntRange(min=1),
        default=DEFAULT_INTERVAL,
        show_default=True,
        help="Seconds between two looks at the rollout.",
    )(command)


@dataclass(frozen=True)
class Ending:
    """How a rollout ended: PROMOTED, ROLLED_BACK, FAILED, ABORTED or TIMED_OUT, and why."""

    result: str
    detail: str

    @property
    def promoted(self) -> bool:
        return self.result == PROMOTED


def ending(execution: Execution | None, record: records.DeploymentRecord | None) -> Ending | None:
    """The end of the rollout, or None while it runs. The execution is the truth when known:
    a record says PROMOTED a moment before the execution ends, and nothing after an abort."""
    if execution is not None:
        if execution.status in STILL_RUNNING:
            return None
        why = ": ".join(part for part in (execution.error, execution.cause) if part)
        if execution.status == "SUCCEEDED":
            return Ending(PROMOTED, record.reason if record else "")
        if execution.status == "FAILED" and execution.error == ROLLED_BACK_ERROR:
            return Ending(records.STATUS_ROLLED_BACK, execution.cause)
        return Ending(execution.status, why)
    if record is not None and record.status in records.FINAL_STATUSES:
        return Ending(record.status, record.reason)
    return None


@dataclass
class Follower:
    """Polls one rollout until it ends, handing each new decision (oldest first) to a callback."""

    deployed: Deployed
    deployment_id: str
    execution_arn: str = ""  # "" for a rollout known only by its record and the lock
    interval: float = DEFAULT_INTERVAL
    on_decision: Callable[[dict[str, Any]], None] = lambda decision: None

    def __post_init__(self) -> None:
        self._table = self.deployed.table()
        self._stepfunctions = StepFunctionsSeam(self.deployed.client("stepfunctions"))
        self._seen: set[str] = set()
        self.record: records.DeploymentRecord | None = None

    def skip_decisions_so_far(self) -> None:
        """Report only decisions written from now on (status already showed the others)."""
        self._seen.update(d["sk"] for d in records.list_decisions(self._table, self.deployment_id))

    def run(self) -> Ending:
        """Look every `interval` seconds until the rollout ends; Ctrl-C stops only the looking."""
        try:
            while True:
                found = self.look()
                if found is not None:
                    return found
                sleep(self.interval)
        except KeyboardInterrupt:
            raise Failure(
                f"stopped following rollout {self.deployment_id}; it goes on without you: "
                f"guardrails status --env {self.deployed.env.name} --watch"
            ) from None

    def look(self) -> Ending | None:
        """One look: the execution, then the record, then the decisions since the last look."""
        execution = self._execution()
        self.record = _record(self._table, self.deployment_id)
        if execution is None and self.record and self.record.execution_arn:
            self.execution_arn = self.record.execution_arn  # known from now on
            execution = self._execution()
        new = [
            d
            for d in records.list_decisions(self._table, self.deployment_id)
            if d["sk"] not in self._seen
        ]
        for decision in reversed(new):
            self._seen.add(decision["sk"])
            self.on_decision(decision)
        found = ending(execution, self.record)
        if found is None and execution is None and not self._holds_lock():
            return Ending("UNKNOWN", "the lock is released and the rollout left no record")
        return found

    def decisions(self) -> list[dict[str, Any]]:
        """Every decision of the rollout, newest first."""
        return records.list_decisions(self._table, self.deployment_id)

    def _execution(self) -> Execution | None:
        if not self.execution_arn:
            return None
        return self._stepfunctions.describe_execution(self.execution_arn)

    def _holds_lock(self) -> bool:
        lock = records.current_lock(self._table, self.deployed.endpoint_name)
        return bool(lock and lock.get("deployment_id") == self.deployment_id)


def _record(table: Any, deployment_id: str) -> records.DeploymentRecord | None:
    try:
        return records.get_deployment(table, deployment_id)
    except records.RecordNotFoundError:
        return None


def format_decision(decision: dict[str, Any]) -> str:
    """`time  decision  by  reason`, and the judge's numbers under a judge's decision."""
    line = "  ".join(
        [
            render.short_time(decision.get("decided_at", "")),
            f"{decision.get('decision', '?'):<9}",
            decision.get("decided_by", "?"),
            decision.get("reason", ""),
        ]
    )
    response = (decision.get("details") or {}).get("response")
    metrics = response.get("metrics") if isinstance(response, dict) else None
    if not metrics:
        return line
    table = render.judge_table(metrics)
    return line + "\n" + "\n".join(f"    {row}" for row in table.splitlines())


def format_ending(deployment_id: str, end: Ending) -> str:
    return f"Rollout {deployment_id} ended: {end.result}" + (
        f" ({end.detail})" if end.detail else ""
    )
