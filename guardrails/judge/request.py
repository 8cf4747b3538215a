"""The judge's request: parsing and validation into typed, frozen dataclasses.

Two forms of a metric are accepted: cumulative (``baseline`` and ``canary`` totals, as old
records and hand-written requests have them) and per-minute (``minutes``: one entry per 60 s
period since the update began, oldest first, as the rollout's reader builds it from
CloudWatch). A malformed request raises ``JudgeInputError`` whose message starts with the
offending field path; absent, null or empty arms parse to ``None`` ("no data yet"), which is
not an error. Unknown fields are errors at every level: a typo must not silently change a test.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

__all__ = [
    "DEFAULT_ALPHA",
    "DEFAULT_MIN_SAMPLES",
    "MAX_COUNT",
    "MAX_MAGNITUDE",
    "MAX_MINUTES",
    "MAX_WARMUP_MINUTES",
    "MIN_ALPHA",
    "MIN_MARGIN",
    "Arm",
    "JudgeInputError",
    "JudgeRequest",
    "MeanMinute",
    "Metric",
    "Minute",
    "parse_request",
]

DEFAULT_ALPHA = 0.05
DEFAULT_MIN_SAMPLES = 100
# Bounds that keep every statistic finite: beyond them a request is absurd, not just large.
MAX_COUNT = 10**15  # requests in one arm (a million a second for thirty years)
MAX_MAGNITUDE = 1e12  # any mean, std, latency, margin or limit, in the metric's unit
MIN_MARGIN = 1e-9  # smaller margins underflow when squared
MIN_ALPHA = 1e-10  # smaller levels make log(1/alpha) meaningless in double precision
MAX_MINUTES = 10_080  # one week of per-minute periods
MAX_WARMUP_MINUTES = 1440

_KINDS = ("proportion", "mean")
_REQUEST_KEYS = ("alpha", "min_samples", "warmup_minutes", "metrics")
_METRIC_KEYS = (
    "name", "kind", "higher_is_worse", "margin", "limit", "baseline", "canary", "minutes",
)  # fmt: skip
_ARM_KEYS = {"proportion": ("events", "trials"), "mean": ("n", "mean", "std")}
_MINUTE_KEYS = ("baseline", "canary")
_PERCENTILES = ("p50", "p90", "p99")
_MINUTE_ARM_KEYS = {
    "proportion": ("events", "trials"),
    "mean": ("count", "sum", "min", "max", *_PERCENTILES),
}
# Relative slack for sums and percentiles against min/max: CloudWatch rounds.
_SLACK = 1e-9


class JudgeInputError(ValueError):
    """A structurally invalid request; the message starts with the offending field path."""


class Arm(NamedTuple):
    """One arm's cumulative data: trials or samples, and the rate or mean."""

    n: int
    value: float  # rate (events/trials) or mean
    events: int = 0  # proportions only
    std: float = 0.0  # means only (cumulative form)


class MeanMinute(NamedTuple):
    """One fleet's CloudWatch aggregates of a mean metric over one minute."""

    n: int  # CloudWatch SampleCount
    total: float  # CloudWatch Sum
    low: float | None = None  # Minimum
    high: float | None = None  # Maximum
    p50: float | None = None
    p90: float | None = None
    p99: float | None = None

    @property
    def mean(self) -> float:
        return self.total / self.n


class Minute(NamedTuple):
    """One 60 s period: each fleet's data, None when it has none.

    Proportions: an ``Arm`` (events, trials); means: a ``MeanMinute``.
    """

    baseline: Arm | MeanMinute | None
    canary: Arm | MeanMinute | None


@dataclass(frozen=True)
class Metric:
    """One metric of the request, validated; an arm is None while it has no data.

    ``baseline``/``canary`` are the cumulative arms; in the per-minute form they are the
    totals over ``minutes`` (what the response reports) and ``minutes`` holds the strata.
    """

    name: str
    kind: str
    higher_is_worse: bool
    margin: float
    limit: float | None
    baseline: Arm | None  # None: missing
    canary: Arm | None
    minutes: tuple[Minute, ...] | None = None  # None: cumulative form


@dataclass(frozen=True)
class JudgeRequest:
    """A validated request: the level, the samples needed to promote, warm-up, the metrics."""

    alpha: float
    min_samples: int
    metrics: tuple[Metric, ...]
    warmup_minutes: int = 0


def _number(path: str, value: object, bound: float = MAX_MAGNITUDE) -> float:
    # Fast path: a plain in-range number (bool is not a plain int; NaN fails the comparison).
    if (type(value) is float or type(value) is int) and -bound <= value <= bound:
        return float(value)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise JudgeInputError(f"{path}: must be a number, got {value!r}")
    try:
        x = float(value)
    except OverflowError:  # an int too large for a float
        raise JudgeInputError(f"{path}: must be at most {bound:g} in size, got {value!r}") from None
    if not math.isfinite(x):
        raise JudgeInputError(f"{path}: must be finite, got {value!r}")
    if abs(x) > bound:
        raise JudgeInputError(f"{path}: must be at most {bound:g} in size, got {value!r}")
    return x


def _integer(path: str, value: object, bound: int = MAX_COUNT) -> int:
    x = _number(path, value, float(bound))
    if x != int(x):
        raise JudgeInputError(f"{path}: must be a whole number, got {value!r}")
    if x < 0:
        raise JudgeInputError(f"{path}: must be >= 0, got {value!r}")
    return int(x)


def _unknown(path: str, obj: Mapping[str, Any], allowed: Sequence[str]) -> None:
    if obj.keys() <= set(allowed):
        return
    extra = sorted(str(k) for k in obj if k not in allowed)
    if extra:
        prefix = f"{path}." if path else ""
        raise JudgeInputError(f"{prefix}{extra[0]}: unknown field (allowed: {', '.join(allowed)})")


def _object_or_none(path: str, raw: object) -> Mapping[str, Any] | None:
    # Absent, null or {} means "no data yet" (continue), not a malformed request.
    if type(raw) is dict:  # the common case, without an abstract-class check
        return raw or None
    if raw is None or (isinstance(raw, Mapping) and len(raw) == 0):
        return None
    if not isinstance(raw, Mapping):
        raise JudgeInputError(f"{path}: must be an object, got {type(raw).__name__}")
    return raw


def _required(path: str, raw: Mapping[str, Any], keys: Sequence[str]) -> None:
    for key in keys:
        if key not in raw:
            raise JudgeInputError(f"{path}.{key}: required")


def _proportion_arm(path: str, raw: Mapping[str, Any]) -> Arm:
    _required(path, raw, ("events", "trials"))
    events = _integer(f"{path}.events", raw["events"])
    trials = _integer(f"{path}.trials", raw["trials"])
    if events > trials:
        raise JudgeInputError(f"{path}.trials: must be >= events ({events} > {trials})")
    return Arm(n=trials, value=events / trials if trials else 0.0, events=events)


def _parse_arm(path: str, kind: str, raw: object) -> Arm | None:
    arm = _object_or_none(path, raw)
    if arm is None:
        return None
    _unknown(path, arm, _ARM_KEYS[kind])
    if kind == "proportion":
        return _proportion_arm(path, arm)
    if "n" not in arm:
        raise JudgeInputError(f"{path}.n: required")
    n = _integer(f"{path}.n", arm["n"])
    if n == 0:
        for key in ("mean", "std"):  # allowed to be absent/null when there is no data
            if arm.get(key) is not None:
                _number(f"{path}.{key}", arm[key])
        return Arm(n=0, value=0.0)
    for key in ("mean", "std"):
        if key not in arm or arm[key] is None:
            raise JudgeInputError(f"{path}.{key}: required when n > 0")
    mean = _number(f"{path}.mean", arm["mean"])
    std = _number(f"{path}.std", arm["std"])
    if std < 0:
        raise JudgeInputError(f"{path}.std: must be >= 0, got {arm['std']!r}")
    return Arm(n=n, value=mean, std=std)


def _optional_number(path: str, raw: Mapping[str, Any], key: str) -> float | None:
    value = raw.get(key)
    return None if value is None else _number(f"{path}.{key}", value)


def _mean_minute(path: str, raw: Mapping[str, Any]) -> MeanMinute | None:
    """One fleet's minute of a mean metric: count, sum, min, max and optional percentiles."""
    _required(path, raw, ("count",))
    count = _integer(f"{path}.count", raw["count"])
    values = {key: _optional_number(path, raw, key) for key in ("sum", "min", "max")}
    percentiles = {key: _optional_number(path, raw, key) for key in _PERCENTILES}
    if count == 0:
        return None  # a period without requests is no data, whatever else it says
    total = values["sum"]
    if total is None:
        raise JudgeInputError(f"{path}.sum: required when count > 0")
    low, high = values["min"], values["max"]
    if (low is None) != (high is None):
        raise JudgeInputError(f"{path}.{'max' if high is None else 'min'}: required with min/max")
    if low is not None and high is not None:
        if low > high:
            raise JudgeInputError(f"{path}.min: must be <= max ({low:g} > {high:g})")
        slack = _SLACK * max(abs(low), abs(high), 1.0) * count
        if not count * low - slack <= total <= count * high + slack:
            raise JudgeInputError(
                f"{path}.sum: must lie within [count x min, count x max] "
                f"({total:g} outside [{count * low:g}, {count * high:g}])"
            )
    previous_key, previous = "min", low
    for key in _PERCENTILES:
        value = percentiles[key]
        if value is None:
            continue
        if previous is not None and value < previous - _SLACK * max(abs(previous), 1.0):
            raise JudgeInputError(
                f"{path}.{key}: must be >= {previous_key} ({value:g} < {previous:g})"
            )
        previous_key, previous = key, value
    if high is not None and previous is not None and previous > high + _SLACK * max(abs(high), 1.0):
        raise JudgeInputError(f"{path}.{previous_key}: must be <= max ({previous:g} > {high:g})")
    return MeanMinute(count, total, low, high, **percentiles)


def _plain(value: object) -> bool:
    # Exact types: bool is an int subclass and must take the validating path.
    return (type(value) is float or type(value) is int) and (
        -MAX_MAGNITUDE <= value <= MAX_MAGNITUDE  # type: ignore[operator]
    )


def _fast_minute_arm(kind: str, raw: dict[str, Any]) -> Arm | MeanMinute | None | bool:
    """A well-formed minute arm without per-field calls; False: take the validating path."""
    if kind == "proportion":
        if len(raw) != 2:
            return False
        events, trials = raw.get("events"), raw.get("trials")
        if type(events) is int and type(trials) is int and 0 <= events <= trials <= MAX_COUNT:
            return Arm(trials, events / trials, events) if trials else None
        return False
    count, total, low, high = raw.get("count"), raw.get("sum"), raw.get("min"), raw.get("max")
    p50, p90, p99 = raw.get("p50"), raw.get("p90"), raw.get("p99")
    if (
        len(raw) != 7
        or type(count) is not int
        or not 0 < count <= MAX_COUNT
        or not all(_plain(v) for v in (total, low, high, p50, p90, p99))
    ):
        return False
    assert isinstance(total, (int, float)) and isinstance(low, (int, float))
    assert isinstance(high, (int, float)) and isinstance(p50, (int, float))
    assert isinstance(p90, (int, float)) and isinstance(p99, (int, float))
    if not low <= p50 <= p90 <= p99 <= high or not count * low <= total <= count * high:
        return False
    return MeanMinute(
        count, float(total), float(low), float(high), float(p50), float(p90), float(p99)
    )


def _minute_arm(path: str, kind: str, raw: object) -> Arm | MeanMinute | None:
    if type(raw) is dict and raw:
        fast = _fast_minute_arm(kind, raw)
        if fast is not False:
            assert not isinstance(fast, bool)
            return fast
    arm = _object_or_none(path, raw)
    if arm is None:
        return None
    _unknown(path, arm, _MINUTE_ARM_KEYS[kind])
    if kind == "proportion":
        parsed = _proportion_arm(path, arm)
        return parsed if parsed.n else None
    return _mean_minute(path, arm)


def _parse_minutes(path: str, kind: str, raw: object) -> tuple[Minute, ...]:
    if isinstance(raw, (str, bytes, Mapping)) or not isinstance(raw, Sequence):
        raise JudgeInputError(f"{path}: must be a list, got {type(raw).__name__}")
    if len(raw) > MAX_MINUTES:
        raise JudgeInputError(f"{path}: at most {MAX_MINUTES} minutes, got {len(raw)}")
    minutes = []
    for i, entry in enumerate(raw):
        where = f"{path}[{i}]"
        if type(entry) is not dict and not isinstance(entry, Mapping):
            raise JudgeInputError(f"{where}: must be an object, got {type(entry).__name__}")
        _unknown(where, entry, _MINUTE_KEYS)
        minutes.append(
            Minute(
                baseline=_minute_arm(f"{where}.baseline", kind, entry.get("baseline")),
                canary=_minute_arm(f"{where}.canary", kind, entry.get("canary")),
            )
        )
    return tuple(minutes)


def _total(path: str, kind: str, arms: Sequence[Arm | MeanMinute | None]) -> Arm | None:
    """The cumulative arm over every minute; None when no minute has data."""
    present = [a for a in arms if a is not None]
    if not present:
        return None
    if kind == "proportion":
        proportion = [a for a in present if isinstance(a, Arm)]
        events, trials = sum(a.events for a in proportion), sum(a.n for a in proportion)
        if trials > MAX_COUNT:
            raise JudgeInputError(f"{path}: more than {MAX_COUNT:g} trials in total")
        return Arm(n=trials, value=events / trials, events=events)
    means = [a for a in present if isinstance(a, MeanMinute)]
    count = sum(a.n for a in means)
    if count > MAX_COUNT:
        raise JudgeInputError(f"{path}: more than {MAX_COUNT:g} samples in total")
    return Arm(n=count, value=math.fsum(a.total for a in means) / count)


def _parse_metric(i: int, raw: object, names: set[str]) -> Metric:
    path = f"metrics[{i}]"
    if not isinstance(raw, Mapping):
        raise JudgeInputError(f"{path}: must be an object, got {type(raw).__name__}")
    _unknown(path, raw, _METRIC_KEYS)
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip():
        raise JudgeInputError(f"{path}.name: required non-empty string, got {name!r}")
    if name in names:
        raise JudgeInputError(f"{path}.name: duplicate metric name {name!r}")
    names.add(name)
    try:
        return _parse_named_metric(path, name, raw)
    except JudgeInputError as error:  # say which metric: paths index, operators read names
        raise JudgeInputError(f"{error} (metric {name!r})") from None


def _parse_named_metric(path: str, name: str, raw: Mapping[str, Any]) -> Metric:
    kind = raw.get("kind")
    if kind not in _KINDS:
        raise JudgeInputError(f"{path}.kind: must be one of {', '.join(_KINDS)}, got {kind!r}")
    hiw = raw.get("higher_is_worse", True)
    if not isinstance(hiw, bool):
        raise JudgeInputError(f"{path}.higher_is_worse: must be true or false, got {hiw!r}")
    if "margin" not in raw:
        raise JudgeInputError(f"{path}.margin: required")
    margin = _number(f"{path}.margin", raw["margin"])
    if margin <= 0:
        raise JudgeInputError(f"{path}.margin: must be > 0, got {raw['margin']!r}")
    if margin < MIN_MARGIN:
        raise JudgeInputError(f"{path}.margin: must be >= {MIN_MARGIN:g}, got {raw['margin']!r}")
    if kind == "proportion" and margin >= 0.5:
        raise JudgeInputError(f"{path}.margin: must be < 0.5 for a proportion, got {margin!r}")
    limit = raw.get("limit")
    if limit is not None:
        limit = _number(f"{path}.limit", limit)
        if kind == "proportion" and not 0.0 < limit < 1.0:
            raise JudgeInputError(
                f"{path}.limit: must be in (0, 1) for a proportion, got {limit!r}"
            )
    if "minutes" in raw:
        for key in ("baseline", "canary"):
            if key in raw:
                raise JudgeInputError(
                    f"{path}.{key}: not with minutes (give cumulative arms or minutes, not both)"
                )
        minutes = _parse_minutes(f"{path}.minutes", kind, raw["minutes"])
        baseline = _total(f"{path}.minutes", kind, [m.baseline for m in minutes])
        canary = _total(f"{path}.minutes", kind, [m.canary for m in minutes])
        return Metric(name, kind, hiw, margin, limit, baseline, canary, minutes)
    baseline = _parse_arm(f"{path}.baseline", kind, raw.get("baseline"))
    canary = _parse_arm(f"{path}.canary", kind, raw.get("canary"))
    return Metric(name, kind, hiw, margin, limit, baseline, canary)


def parse_request(request: object) -> JudgeRequest:
    """Validate a judge request (a JSON object) into a ``JudgeRequest``; raise JudgeInputError."""
    if not isinstance(request, Mapping):
        raise JudgeInputError(f"request: must be an object, got {type(request).__name__}")
    _unknown("", request, _REQUEST_KEYS)
    alpha = request.get("alpha")
    alpha = DEFAULT_ALPHA if alpha is None else _number("alpha", alpha)
    if not 0.0 < alpha <= 0.5:
        raise JudgeInputError(f"alpha: must be in (0, 0.5], got {request.get('alpha')!r}")
    if alpha < MIN_ALPHA:
        raise JudgeInputError(f"alpha: must be >= {MIN_ALPHA:g}, got {request.get('alpha')!r}")
    ms = request.get("min_samples")
    min_samples = DEFAULT_MIN_SAMPLES if ms is None else _integer("min_samples", ms)
    if min_samples < 1:
        raise JudgeInputError(f"min_samples: must be >= 1, got {ms!r}")
    wm = request.get("warmup_minutes")
    warmup = 0 if wm is None else _integer("warmup_minutes", wm, MAX_WARMUP_MINUTES)
    raw_metrics = request.get("metrics")
    if raw_metrics is None:
        raw_metrics = []
    if isinstance(raw_metrics, (str, bytes, Mapping)) or not isinstance(raw_metrics, Sequence):
        raise JudgeInputError(f"metrics: must be a list, got {type(raw_metrics).__name__}")
    names: set[str] = set()
    metrics = tuple(_parse_metric(i, m, names) for i, m in enumerate(raw_metrics))
    return JudgeRequest(alpha, min_samples, metrics, warmup)
