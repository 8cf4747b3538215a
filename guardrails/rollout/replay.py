"""Replaying the released test data while a rollout bakes, so environments without users decide.

The judge never promotes on missing data, so an environment without users (staging) would roll
every model back as stuck. Where the judge loop waits `judge.interval_seconds` for metrics, the
Replay step (`replay`) instead sends that interval's share of `traffic.replay_requests_per_minute`
InvokeEndpoint requests, spread evenly over it, through the endpoint's normal routing: each
fleet gets its share, and CloudWatch counts them like real requests, so the judge sees them in
the same metrics. Then the Judge step runs, with the round's counts for the record. The step
is in the loop only, so the replay stops when the judge decides, and on rollback or failure.

Payloads come only from the test data the approval step released with the package (the
pipeline's held-out split: headerless CSV, the 0/1 label first, then the features the model
takes as text/csv); its SHA-256 is checked against the package's record before a row is used.
Every answer is scored against its row's label (a score of 0.5 or more means 1, as the
pipeline's evaluation scores; an answer without a number counts as wrong). Where the answer
names the fleet that served it (A/B: `InvokedProductionVariant` is the production or the
candidate variant), the counts are published per variant and minute as `LabelledCorrect` /
`LabelledTotal` (`Guardrails/Quality`), which the judge compares as `labelled_accuracy`. A
native update's two fleets share the variant name and a shadow's answers never reach the
client, so there the counts are only recorded.

A replay failure never promotes: each row is one attempt (no retries), throttled and failed
requests are counted and reported, and the judge sees less data or the errors themselves.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import math
import random
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from guardrails.rollout import artifacts
from guardrails.rollout.context import RolloutContext
from guardrails.rollout.state import EventError, RolloutRefused, RolloutState
from guardrails.services import clients
from guardrails.services.errors import error_code
from guardrails.services.s3 import S3Seam

CONTENT_TYPE = "text/csv"
PREDICTION_THRESHOLD = 0.5  # pipelines/evaluate.py scores at 0.5 too
# Rows kept per test split (a uniform sample of larger ones): bounds the Lambda's memory.
MAX_ROWS = 10_000
THROTTLED_CODES = frozenset({"ThrottlingException", "TooManyRequestsException"})
_NUMBER = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")


@dataclass(frozen=True)
class LabelledRow:
    """One test row: the request body the endpoint takes, and the label it should answer."""

    body: str
    label: int


@dataclass(frozen=True)
class TestData:
    """The usable rows of a released test split (a sample of at most MAX_ROWS)."""

    rows: tuple[LabelledRow, ...]
    read: int  # data rows in the file
    unusable: int  # rows without a 0/1 label and numeric features


# Test data already read and verified in this Lambda container: (uri, sha256) -> rows.
_LOADED: dict[tuple[str, str], TestData] = {}


@dataclass(frozen=True, kw_only=True)
class ReplayRound:
    """One interval's replay: what was sent, how it went, and the labelled counts per variant."""

    deployment_id: str
    planned: int  # requests due this interval
    sent: int = 0  # InvokeEndpoint calls made
    answered: int = 0
    failed: int = 0  # errors other than throttling: 4xx from bad rows, 5xx, timeouts
    throttled: int = 0
    unsent: int = 0  # not sent before the interval ended: the sender fell behind
    labelled: Mapping[str, Mapping[str, int]] = field(default_factory=dict)  # variant -> counts
    accuracy_published: bool = False
    note: str = ""

    def to_event(self) -> dict[str, Any]:
        return {
            "deployment_id": self.deployment_id,
            "planned": self.planned,
            "sent": self.sent,
            "answered": self.answered,
            "failed": self.failed,
            "throttled": self.throttled,
            "unsent": self.unsent,
            "labelled": {variant: dict(counts) for variant, counts in self.labelled.items()},
            "accuracy_published": self.accuracy_published,
            "note": self.note,
        }

    @classmethod
    def parse(cls, raw: Any, path: str = "replay") -> ReplayRound:
        """From the Replay step's answer, as the state machine hands it to the Judge step."""
        if not isinstance(raw, Mapping):
            raise EventError(f"{path}: must be an object")
        counts = {}
        for name in ("planned", "sent", "answered", "failed", "throttled", "unsent"):
            value = raw.get(name, 0)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise EventError(f"{path}.{name}: must be a whole number >= 0")
            counts[name] = value
        labelled = raw.get("labelled", {})
        if not isinstance(labelled, Mapping) or not all(
            isinstance(variant, str)
            and isinstance(tally, Mapping)
            and all(
                isinstance(tally.get(k), int) and not isinstance(tally.get(k), bool)
                for k in ("correct", "total")
            )
            for variant, tally in labelled.items()
        ):
            raise EventError(f"{path}.labelled: must map variants to {{correct, total}} counts")
        published = raw.get("accuracy_published", False)
        if not isinstance(published, bool):
            raise EventError(f"{path}.accuracy_published: must be true or false")
        return cls(
            deployment_id=str(raw.get("deployment_id", "")),
            labelled={
                variant: {"correct": tally["correct"], "total": tally["total"]}
                for variant, tally in labelled.items()
            },
            accuracy_published=published,
            note=str(raw.get("note", ""))[:1000],
            **counts,
        )


@dataclass(frozen=True)
class JudgeRound:
    """The Judge step's event: the rollout state and, where the environment replays, the round."""

    state: RolloutState
    replay: ReplayRound | None

    @property
    def deployment_id(self) -> str:
        return self.state.deployment_id

    @classmethod
    def parse(cls, event: Any) -> JudgeRound:
        """From {"rollout": {..., "replay": {...}}}: the Replay step leaves its answer there."""
        if not isinstance(event, Mapping) or not isinstance(event.get("rollout"), Mapping):
            raise EventError("rollout: must be an object")
        state = RolloutState.parse(event["rollout"])
        raw = event["rollout"].get("replay")
        return cls(state=state, replay=None if raw is None else ReplayRound.parse(raw))


def requests_per_round(requests_per_minute: int, interval_seconds: int) -> int:
    """How many requests one judge interval carries."""
    return round(requests_per_minute * interval_seconds / 60)


def prediction(answer: bytes) -> int | None:
    """The class an answer says (its first number, 1 at PREDICTION_THRESHOLD); None if none."""
    match = _NUMBER.search(answer.decode("utf-8", errors="replace"))
    if match is None:
        return None
    score = float(match.group(0))
    return 1 if math.isfinite(score) and score >= PREDICTION_THRESHOLD else 0


def parse_row(fields: list[str]) -> LabelledRow | None:
    """A test row (label, features...) as a request and its label; None when unusable."""
    if len(fields) < 2 or fields[0].strip() not in ("0", "1", "0.0", "1.0"):
        return None
    features = [text.strip() for text in fields[1:]]
    try:
        if not all(math.isfinite(float(text)) for text in features):
            return None
    except ValueError:
        return None
    return LabelledRow(body=",".join(features), label=int(float(fields[0])))


def read_test_data(chunks: Iterable[bytes], *, sha256: str, source: str, seed: str) -> TestData:
    """The usable rows of a test split, read once; RolloutRefused unless its bytes match `sha256`.

    Every byte is hashed as it is read; the rows kept are a uniform sample of at most MAX_ROWS
    (reservoir sampling, seeded, so a container reads the same sample every time).
    """
    digest = hashlib.sha256()
    rng = random.Random(seed)
    kept: list[LabelledRow] = []
    read = unusable = 0
    for fields in csv.reader(_lines(chunks, digest)):
        if not fields:
            continue
        read += 1
        row = parse_row(fields)
        if row is None:
            unusable += 1
            continue
        usable = read - unusable
        if len(kept) < MAX_ROWS:
            kept.append(row)
        else:
            slot = rng.randrange(usable)
            if slot < MAX_ROWS:
                kept[slot] = row
    found = base64.b64encode(digest.digest()).decode()
    if found != sha256:
        raise RolloutRefused(
            f"released test data {source} has SHA-256 {found}, but the package's approval "
            f"recorded {sha256}: refusing to replay it"
        )
    if not kept:
        raise RolloutRefused(
            f"released test data {source} has no usable row ({read} rows, {unusable} without a "
            "0/1 label first and numeric features): nothing to replay"
        )
    return TestData(rows=tuple(kept), read=read, unusable=unusable)


def _lines(chunks: Iterable[bytes], digest: Any) -> Iterator[str]:
    """Text lines of the chunks, hashing every byte on the way."""
    carry = b""
    for chunk in chunks:
        digest.update(chunk)
        carry += chunk
        *complete, carry = carry.split(b"\n")
        for line in complete:
            yield line.decode("utf-8", errors="replace")
    if carry:
        yield carry.decode("utf-8", errors="replace")


def load_test_data(state: RolloutState, ctx: RolloutContext, s3: S3Seam) -> TestData:
    """The package's released test data, verified (read once per container)."""
    package = ctx.sagemaker.model_package(state.model_package_arn)
    location, sha256 = artifacts.released_test_data(package, ctx.settings)
    key = (location.uri, sha256)
    if key not in _LOADED:
        _LOADED[key] = read_test_data(
            s3.chunks(location), sha256=sha256, source=location.uri, seed=sha256
        )
    return _LOADED[key]


@dataclass
class _Tally:
    """Counts of one round as the requests go out."""

    sent: int = 0
    answered: int = 0
    failed: int = 0
    throttled: int = 0
    # (variant, minute) -> [correct, total]
    labelled: dict[tuple[str, datetime], list[int]] = field(default_factory=dict)
    errors: Counter[str] = field(default_factory=Counter)

    def by_variant(self) -> dict[str, dict[str, int]]:
        totals: dict[str, dict[str, int]] = {}
        for (variant, _), (correct, total) in sorted(self.labelled.items()):
            tally = totals.setdefault(variant, {"correct": 0, "total": 0})
            tally["correct"] += correct
            tally["total"] += total
        return totals


def replay(state: RolloutState, ctx: RolloutContext, s3: S3Seam | None = None) -> ReplayRound:
    """Send one judge interval's replayed requests, spread over it; count and publish them."""
    s = ctx.settings
    ctx.hold_lock(state.deployment_id)
    interval = s.judge.interval_seconds
    planned = requests_per_round(s.traffic.replay_requests_per_minute, interval)
    started = ctx.now()
    if planned == 0:
        return ReplayRound(deployment_id=state.deployment_id, planned=0, note="replay is off")
    data = load_test_data(state, ctx, s3 or S3Seam(clients.client("s3")))
    # Rows drawn at random (with replacement) whichever fleet answers: both see the same mix.
    rng = random.Random(f"{state.deployment_id}:{state.rounds}:{state.ab_step}")
    deadline = started + timedelta(seconds=interval)
    tally = _Tally()
    unsent = 0
    for index in range(planned):
        due = started + timedelta(seconds=interval * index / planned)
        now = ctx.now()
        if now >= deadline:
            unsent = planned - index
            break
        if due > now:
            ctx.sleep((due - now).total_seconds())
        _send(rng.choice(data.rows), ctx, tally)
    # The step takes the Wait state's place: the next look comes one interval after this one.
    remaining = (deadline - ctx.now()).total_seconds()
    if remaining > 0:
        ctx.sleep(remaining)
    published = _publish(state, ctx, tally)
    return ReplayRound(
        deployment_id=state.deployment_id,
        planned=planned,
        sent=tally.sent,
        answered=tally.answered,
        failed=tally.failed,
        throttled=tally.throttled,
        unsent=unsent,
        labelled=tally.by_variant(),
        accuracy_published=published,
        note=_note(state, ctx, tally, data, published),
    )


def _send(row: LabelledRow, ctx: RolloutContext, tally: _Tally) -> None:
    """One InvokeEndpoint, one attempt; its outcome and, if answered, whether it was right."""
    tally.sent += 1
    try:
        answer = ctx.sagemaker.invoke_routed(ctx.settings.endpoint_name, row.body, CONTENT_TYPE)
    except ClientError as error:
        code = error_code(error)
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if code in THROTTLED_CODES or status == 429:
            tally.throttled += 1
        else:
            tally.failed += 1
        tally.errors[code or str(status)] += 1
        return
    except BotoCoreError as error:  # timeouts, connection errors: this row only
        tally.failed += 1
        tally.errors[type(error).__name__] += 1
        return
    tally.answered += 1
    minute = ctx.now().replace(second=0, microsecond=0)
    counts = tally.labelled.setdefault((answer.variant, minute), [0, 0])
    counts[0] += int(prediction(answer.body) == row.label)
    counts[1] += 1


def _fleets(state: RolloutState, ctx: RolloutContext) -> tuple[str, ...]:
    """The variants whose answers the judge can attribute to a fleet: A/B's two, else none."""
    if ctx.settings.deployment.kind != "ab" or not state.candidate_variant:
        return ()
    return ctx.settings.variant_name, state.candidate_variant


def _publish(state: RolloutState, ctx: RolloutContext, tally: _Tally) -> bool:
    """LabelledCorrect / LabelledTotal of the attributable variants; False when none is."""
    fleets = _fleets(state, ctx)
    counts = {
        (variant, minute): (correct, total)
        for (variant, minute), (correct, total) in tally.labelled.items()
        if variant in fleets
    }
    if fleets:
        ctx.cloudwatch.put_labelled_counts(ctx.settings.endpoint_name, counts)
    return bool(fleets)


def _note(
    state: RolloutState, ctx: RolloutContext, tally: _Tally, data: TestData, published: bool
) -> str:
    errors = ", ".join(f"{code} x{n}" for code, n in tally.errors.most_common(3))
    note = f"{tally.answered} of {tally.sent} answered" + (f" ({errors})" if errors else "")
    if not published:
        note += (
            f"; labelled accuracy recorded, not published: a {ctx.settings.deployment.kind} "
            "rollout's answers do not say which fleet served them"
        )
    if data.unusable:
        note += f"; {data.unusable} of {data.read} test rows unusable"
    return note

