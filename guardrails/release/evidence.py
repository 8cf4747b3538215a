"""A rollout's evidence: what its execution returns for the approval of the next environment.

The Finish step returns, beside the final state, the numbers a person needs to approve prod on
staging's result without opening another account: the judge's latest round (per metric both
arms, sample sizes, difference, always-valid interval, decision), the replay's counts (the
latest rounds and the totals) and the outcome with its reason. It is collected from the
deployment's decision records (`collect`) and bounded (`EVIDENCE_LIMIT_BYTES`), since it
travels in the execution's output; the approval stage reads it back with DescribeExecution
(`RolloutEvidence.parse`: EvidenceError names a bad field). Pure: no AWS calls.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

from guardrails.notifications import MetricRow, metric_rows
from guardrails.validation import ConfigError, check_fields, from_mapping, got

EVIDENCE_KEY = "evidence"  # where the rollout's execution output carries it
EVIDENCE_LIMIT_BYTES = 8192  # the JSON: a few percent of Step Functions' 256 KB output
MAX_METRICS = 12
MAX_ROUNDS_LISTED = 10  # the latest replay rounds listed one by one; the totals count all
MAX_VARIANTS = 4
_NAME_LIMIT = 64
_TEXT_LIMIT = 500
# Decision records read: every judge round of a 2-hour bake at one a minute, and the rest.
DECISIONS_READ = 400


class EvidenceError(ValueError):
    """A rollout's evidence is missing or malformed; the message names the field."""


@dataclass(frozen=True, kw_only=True)
class JudgedMetric:
    """One metric of a judge round: both arms, their sample sizes, and what the judge made of it."""

    name: str
    baseline: float | None = None  # None: no baseline (a first deploy) or no data
    candidate: float | None = None
    n_baseline: int = 0
    n_candidate: int = 0
    difference: float | None = None  # candidate - baseline, as the judge estimated it
    ci_low: float | None = None  # the always-valid interval of the difference
    ci_high: float | None = None
    p_value: float | None = None
    decision: str = ""  # promote, continue or rollback (the metric's own verdict)

    def __post_init__(self) -> None:
        check_fields(self)

    @classmethod
    def of(cls, row: MetricRow) -> JudgedMetric:
        low, high = row.ci or (None, None)
        return cls(
            name=row.name[:_NAME_LIMIT],
            baseline=_finite(row.baseline),
            candidate=_finite(row.canary),
            n_baseline=row.n_baseline,
            n_candidate=row.n_canary,
            difference=_finite(row.difference),
            ci_low=_finite(low),
            ci_high=_finite(high),
            p_value=_finite(row.p_value),
            decision=row.decision[:_NAME_LIMIT],
        )

    def row(self) -> MetricRow:
        """As the notifications' table shows a metric."""
        known = self.ci_low is not None or self.ci_high is not None
        return MetricRow(
            name=self.name,
            baseline=self.baseline,
            canary=self.candidate,
            n_baseline=self.n_baseline,
            n_canary=self.n_candidate,
            difference=self.difference,
            ci=(self.ci_low, self.ci_high) if known else None,
            p_value=self.p_value,
            decision=self.decision,
        )


@dataclass(frozen=True, kw_only=True)
class JudgeEvidence:
    """The judge's latest round of the rollout."""

    rounds: int  # judge rounds the rollout ran
    decided_at: str  # when the latest one was recorded (ISO 8601)
    decision: str  # its verdict: promote, continue or rollback
    reason: str
    metrics: tuple[JudgedMetric, ...] = ()

    def __post_init__(self) -> None:
        check_fields(self)


@dataclass(frozen=True, kw_only=True)
class ReplayCounts:
    """What the replay sent in one judge interval (or in all of them) and how it went."""

    sent: int = 0
    answered: int = 0
    failed: int = 0  # errors other than throttling: 4xx from bad rows, 5xx, timeouts
    throttled: int = 0
    unsent: int = 0  # due but not sent before the interval ended
    at: str = ""  # when the judge recorded the round ("" in the totals)

    def __post_init__(self) -> None:
        check_fields(self)

    def plus(self, other: ReplayCounts) -> ReplayCounts:
        return ReplayCounts(
            sent=self.sent + other.sent,
            answered=self.answered + other.answered,
            failed=self.failed + other.failed,
            throttled=self.throttled + other.throttled,
            unsent=self.unsent + other.unsent,
        )


@dataclass(frozen=True, kw_only=True)
class LabelledCounts:
    """Replayed rows a fleet answered right, of those it answered (labelled accuracy)."""

    variant: str
    correct: int
    total: int

    def __post_init__(self) -> None:
        check_fields(self)


@dataclass(frozen=True, kw_only=True)
class ReplayEvidence:
    """The replay of the rollout: its latest rounds one by one, and the totals of all recorded."""

    rounds_counted: int  # rounds in the totals (the judge rounds whose record has a replay)
    totals: ReplayCounts
    rounds: tuple[ReplayCounts, ...] = ()  # the latest MAX_ROUNDS_LISTED, oldest first
    labelled: tuple[LabelledCounts, ...] = ()  # totals per variant

    def __post_init__(self) -> None:
        check_fields(self)


@dataclass(frozen=True, kw_only=True)
class RolloutEvidence:
    """What one rollout of an environment showed, as its execution returns it."""

    deployment_id: str
    model_package_arn: str
    result: str  # PROMOTED, ROLLED_BACK or FAILED
    reason: str
    first_deploy: bool = False  # nothing served before: no baseline, judged on limits only
    judge: JudgeEvidence | None = None  # None: the judge recorded no round
    replay: ReplayEvidence | None = None  # None: the environment does not replay

    def __post_init__(self) -> None:
        check_fields(self)

    def to_event(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def parse(cls, raw: Any, path: str = EVIDENCE_KEY) -> RolloutEvidence:
        """From a rollout execution's output; EvidenceError names the first bad field."""
        if not isinstance(raw, Mapping):
            raise EvidenceError(f"{path}: must be an object {got(raw)}")
        values = dict(raw)
        try:
            judge = values.pop("judge", None)
            replay = values.pop("replay", None)
            return from_mapping(
                cls,
                {
                    **values,
                    "judge": None if judge is None else _judge(judge, f"{path}.judge"),
                    "replay": None if replay is None else _replay(replay, f"{path}.replay"),
                },
                path=path,
            )
        except ConfigError as error:
            raise EvidenceError(str(error)) from None

    @classmethod
    def of_output(cls, output: str) -> RolloutEvidence:
        """The evidence in a rollout execution's output (DescribeExecution's JSON text)."""
        try:
            document = json.loads(output or "null")
        except ValueError:
            raise EvidenceError("output: not JSON") from None
        if not isinstance(document, Mapping) or EVIDENCE_KEY not in document:
            raise EvidenceError(
                f"output.{EVIDENCE_KEY}: missing (the rollout returns no evidence: its "
                "rollout stack predates the approval before prod; deploy it again)"
            )
        return cls.parse(document[EVIDENCE_KEY], f"output.{EVIDENCE_KEY}")


def _judge(raw: Any, path: str) -> JudgeEvidence:
    if not isinstance(raw, Mapping):
        raise EvidenceError(f"{path}: must be an object {got(raw)}")
    values = dict(raw)
    metrics = _items(values.pop("metrics", []), f"{path}.metrics", JudgedMetric, MAX_METRICS)
    return from_mapping(JudgeEvidence, {**values, "metrics": metrics}, path=path)


def _replay(raw: Any, path: str) -> ReplayEvidence:
    if not isinstance(raw, Mapping):
        raise EvidenceError(f"{path}: must be an object {got(raw)}")
    values = dict(raw)
    rounds = _items(values.pop("rounds", []), f"{path}.rounds", ReplayCounts, MAX_ROUNDS_LISTED)
    labelled = _items(values.pop("labelled", []), f"{path}.labelled", LabelledCounts, MAX_VARIANTS)
    totals = from_mapping(ReplayCounts, values.pop("totals", {}), path=f"{path}.totals")
    return from_mapping(
        ReplayEvidence,
        {**values, "rounds": rounds, "labelled": labelled, "totals": totals},
        path=path,
    )


def _items(raw: Any, path: str, cls: type, limit: int) -> tuple[Any, ...]:
    if not isinstance(raw, list):
        raise EvidenceError(f"{path}: must be a list {got(raw)}")
    if len(raw) > limit:
        raise EvidenceError(f"{path}: at most {limit} items (got {len(raw)})")
    return tuple(from_mapping(cls, item, path=f"{path}[{i}]") for i, item in enumerate(raw))


# --------------------------------------------------------------------------- collecting


def collect(
    decisions: Iterable[Mapping[str, Any]],
    *,
    deployment_id: str,
    model_package_arn: str,
    result: str,
    reason: str,
    judge_rounds: int,
    first_deploy: bool = False,
) -> RolloutEvidence:
    """The evidence of a rollout from its decision records (newest first, as recorded)."""
    judged = [d for d in decisions if d.get("decided_by") == "judge"]
    replayed = [(d, d["details"]["replay"]) for d in judged if _has_replay(d)]
    evidence = RolloutEvidence(
        deployment_id=deployment_id,
        model_package_arn=model_package_arn,
        result=result,
        reason=reason[:_TEXT_LIMIT],
        first_deploy=first_deploy,
        judge=_latest_round(judged[0], judge_rounds) if judged else None,
        replay=_replay_evidence(replayed) if replayed else None,
    )
    return bounded(evidence)


def _has_replay(decision: Mapping[str, Any]) -> bool:
    details = decision.get("details")
    return isinstance(details, Mapping) and isinstance(details.get("replay"), Mapping)


def _latest_round(decision: Mapping[str, Any], judge_rounds: int) -> JudgeEvidence:
    details = decision.get("details") or {}
    rows = metric_rows(details.get("request") or {}, details.get("response") or {})
    return JudgeEvidence(
        rounds=judge_rounds,
        decided_at=str(decision.get("decided_at", "")),
        decision=str(decision.get("decision", ""))[:_NAME_LIMIT],
        reason=str(decision.get("reason", ""))[:_TEXT_LIMIT],
        metrics=tuple(JudgedMetric.of(row) for row in rows[:MAX_METRICS]),
    )


def _replay_evidence(
    replayed: Sequence[tuple[Mapping[str, Any], Mapping[str, Any]]],
) -> ReplayEvidence:
    """Counts of every recorded round (newest first in `replayed`), the latest listed."""
    rounds = [_counts(replay, at=str(d.get("decided_at", ""))) for d, replay in replayed]
    totals = ReplayCounts()
    labelled: dict[str, list[int]] = {}
    for counts, (_, replay) in zip(rounds, replayed, strict=True):
        totals = totals.plus(counts)
        for variant, tally in (replay.get("labelled") or {}).items():
            summed = labelled.setdefault(str(variant)[:_NAME_LIMIT], [0, 0])
            summed[0] += _count(tally, "correct")
            summed[1] += _count(tally, "total")
    return ReplayEvidence(
        rounds_counted=len(rounds),
        totals=totals,
        rounds=tuple(reversed(rounds[:MAX_ROUNDS_LISTED])),
        labelled=tuple(
            LabelledCounts(variant=variant, correct=correct, total=total)
            for variant, (correct, total) in sorted(labelled.items())[:MAX_VARIANTS]
        ),
    )


def _counts(replay: Mapping[str, Any], *, at: str) -> ReplayCounts:
    names = ("sent", "answered", "failed", "throttled", "unsent")
    return ReplayCounts(at=at[:_NAME_LIMIT], **{name: _count(replay, name) for name in names})


def _count(values: Any, name: str) -> int:
    value = values.get(name, 0) if isinstance(values, Mapping) else 0
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


def _finite(value: Any) -> float | None:
    """A number JSON can carry (Step Functions refuses NaN), else None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def size_of(evidence: RolloutEvidence) -> int:
    """Bytes of the evidence's JSON in the execution output."""
    return len(json.dumps(evidence.to_event(), separators=(",", ":")).encode())


def bounded(evidence: RolloutEvidence) -> RolloutEvidence:
    """The evidence within EVIDENCE_LIMIT_BYTES: the replay's round list goes first, then the
    metrics' tail (the field limits keep it far below in practice)."""
    if size_of(evidence) > EVIDENCE_LIMIT_BYTES and evidence.replay is not None:
        evidence = replace(evidence, replay=replace(evidence.replay, rounds=()))
    while size_of(evidence) > EVIDENCE_LIMIT_BYTES and evidence.judge and evidence.judge.metrics:
        evidence = replace(
            evidence, judge=replace(evidence.judge, metrics=evidence.judge.metrics[:-1])
        )
    return evidence
