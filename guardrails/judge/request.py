"""The judge's request: parsing and validation into typed, frozen dataclasses.

A malformed request raises ``JudgeInputError`` whose message starts with the offending field
path; absent, null or empty arms parse to ``None`` ("no data yet"), which is not an error.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "DEFAULT_ALPHA",
    "DEFAULT_MIN_SAMPLES",
    "Arm",
    "JudgeInputError",
    "JudgeRequest",
    "Metric",
    "parse_request",
]

DEFAULT_ALPHA = 0.05
DEFAULT_MIN_SAMPLES = 100

_KINDS = ("proportion", "mean")
_METRIC_KEYS = ("name", "kind", "higher_is_worse", "margin", "limit", "baseline", "canary")
_ARM_KEYS = {"proportion": ("events", "trials"), "mean": ("n", "mean", "std")}


class JudgeInputError(ValueError):
    """A structurally invalid request; the message starts with the offending field path."""


@dataclass(frozen=True)
class Arm:
    """One arm's cumulative data: trials or samples, and the rate or mean."""

    n: int
    value: float  # rate (events/trials) or mean
    events: int = 0  # proportions only
    std: float = 0.0  # means only


@dataclass(frozen=True)
class Metric:
    """One metric of the request, validated; an arm is None while it has no data."""

    name: str
    kind: str
    higher_is_worse: bool
    margin: float
    limit: float | None
    baseline: Arm | None  # None: missing
    canary: Arm | None


@dataclass(frozen=True)
class JudgeRequest:
    """A validated request: the level, the samples needed to promote, the metrics."""

    alpha: float
    min_samples: int
    metrics: tuple[Metric, ...]


def _number(path: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise JudgeInputError(f"{path}: must be a number, got {value!r}")
    x = float(value)
    if not math.isfinite(x):
        raise JudgeInputError(f"{path}: must be finite, got {value!r}")
    return x


def _integer(path: str, value: object) -> int:
    x = _number(path, value)
    if x != int(x):
        raise JudgeInputError(f"{path}: must be a whole number, got {value!r}")
    if x < 0:
        raise JudgeInputError(f"{path}: must be >= 0, got {value!r}")
    return int(x)


def _unknown(path: str, obj: Mapping[str, Any], allowed: Sequence[str]) -> None:
    extra = sorted(str(k) for k in obj if k not in allowed)
    if extra:
        prefix = f"{path}." if path else ""
        raise JudgeInputError(f"{prefix}{extra[0]}: unknown field (allowed: {', '.join(allowed)})")


def _parse_arm(path: str, kind: str, raw: object) -> Arm | None:
    # Absent, null or {} means "no data yet" (continue), not a malformed request.
    if raw is None or (isinstance(raw, Mapping) and len(raw) == 0):
        return None
    if not isinstance(raw, Mapping):
        raise JudgeInputError(f"{path}: must be an object, got {type(raw).__name__}")
    _unknown(path, raw, _ARM_KEYS[kind])
    if kind == "proportion":
        for key in ("events", "trials"):
            if key not in raw:
                raise JudgeInputError(f"{path}.{key}: required")
        events = _integer(f"{path}.events", raw["events"])
        trials = _integer(f"{path}.trials", raw["trials"])
        if events > trials:
            raise JudgeInputError(f"{path}.trials: must be >= events ({events} > {trials})")
        return Arm(n=trials, value=events / trials if trials else 0.0, events=events)
    if "n" not in raw:
        raise JudgeInputError(f"{path}.n: required")
    n = _integer(f"{path}.n", raw["n"])
    if n == 0:
        for key in ("mean", "std"):  # allowed to be absent/null when there is no data
            if raw.get(key) is not None:
                _number(f"{path}.{key}", raw[key])
        return Arm(n=0, value=0.0)
    for key in ("mean", "std"):
        if key not in raw or raw[key] is None:
            raise JudgeInputError(f"{path}.{key}: required when n > 0")
    mean = _number(f"{path}.mean", raw["mean"])
    std = _number(f"{path}.std", raw["std"])
    if std < 0:
        raise JudgeInputError(f"{path}.std: must be >= 0, got {raw['std']!r}")
    return Arm(n=n, value=mean, std=std)


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
    if kind == "proportion" and margin >= 0.5:
        raise JudgeInputError(f"{path}.margin: must be < 0.5 for a proportion, got {margin!r}")
    limit = raw.get("limit")
    if limit is not None:
        limit = _number(f"{path}.limit", limit)
        if kind == "proportion" and not 0.0 < limit < 1.0:
            raise JudgeInputError(
                f"{path}.limit: must be in (0, 1) for a proportion, got {limit!r}"
            )
    baseline = _parse_arm(f"{path}.baseline", kind, raw.get("baseline"))
    canary = _parse_arm(f"{path}.canary", kind, raw.get("canary"))
    return Metric(name, kind, hiw, margin, limit, baseline, canary)


def parse_request(request: object) -> JudgeRequest:
    """Validate a judge request (a JSON object) into a ``JudgeRequest``; raise JudgeInputError."""
    if not isinstance(request, Mapping):
        raise JudgeInputError(f"request: must be an object, got {type(request).__name__}")
    alpha = request.get("alpha")
    alpha = DEFAULT_ALPHA if alpha is None else _number("alpha", alpha)
    if not 0.0 < alpha <= 0.5:
        raise JudgeInputError(f"alpha: must be in (0, 0.5], got {request.get('alpha')!r}")
    ms = request.get("min_samples")
    min_samples = DEFAULT_MIN_SAMPLES if ms is None else _integer("min_samples", ms)
    if min_samples < 1:
        raise JudgeInputError(f"min_samples: must be >= 1, got {ms!r}")
    raw_metrics = request.get("metrics")
    if raw_metrics is None:
        raw_metrics = []
    if isinstance(raw_metrics, (str, bytes, Mapping)) or not isinstance(raw_metrics, Sequence):
        raise JudgeInputError(f"metrics: must be a list, got {type(raw_metrics).__name__}")
    names: set[str] = set()
    metrics = tuple(_parse_metric(i, m, names) for i, m in enumerate(raw_metrics))
    return JudgeRequest(alpha, min_samples, metrics)
