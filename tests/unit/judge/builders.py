"""Judge requests for the tests: the issue's example, one-metric builders, field edits."""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path
from typing import Any

from guardrails.judge import evaluate

# The issue's example request, shared with the CLI tests and the benchmark.
ISSUE_REQUEST: dict[str, Any] = json.loads(
    (Path(__file__).resolve().parents[2] / "fixtures" / "judge_request.json").read_text()
)

DELETE = object()


def prop(xb: int, nb: int, xc: int, nc: int, margin: float = 0.005, **extra: Any) -> dict[str, Any]:
    return {
        "name": extra.pop("name", "error_rate"),
        "kind": "proportion",
        "margin": margin,
        "baseline": {"events": xb, "trials": nb},
        "canary": {"events": xc, "trials": nc},
        **extra,
    }


def mean(
    b: tuple[int, float, float], c: tuple[int, float, float], margin: float = 5.0, **extra: Any
) -> dict[str, Any]:
    return {
        "name": extra.pop("name", "latency_ms"),
        "kind": "mean",
        "margin": margin,
        "baseline": dict(zip(("n", "mean", "std"), b, strict=True)),
        "canary": dict(zip(("n", "mean", "std"), c, strict=True)),
        **extra,
    }


def decide(*metrics: dict[str, Any], **top: Any) -> str:
    return evaluate({"metrics": list(metrics), **top})["decision"]


def with_metric(i: int, **changes: Any) -> dict[str, Any]:
    """The issue's request with metric i edited: ``canary__events=3`` sets, ``=DELETE`` drops."""
    req = copy.deepcopy(ISSUE_REQUEST)
    for key, value in changes.items():
        path = key.split("__")
        target = req["metrics"][i]
        for p in path[:-1]:
            target = target[p]
        if value is DELETE:
            del target[path[-1]]
        else:
            target[path[-1]] = value
    return req


# --------------------------------------------------------------------------- per-minute form

# Percentile positions of a log-normal with log-scale sd 1 (z of p50, p90, p99), and the
# extremes a minute of a few hundred requests typically shows.
_Z = {"p50": 0.0, "p90": 1.2816, "p99": 2.3263, "min": -3.0, "max": 3.5}


def mean_minute(count: int, mean_value: float, sigma: float = 1.0) -> dict[str, Any]:
    """A consistent CloudWatch minute of a log-normal latency: count, sum, min, max, pXX."""
    median = mean_value * math.exp(-0.5 * sigma * sigma)
    arm: dict[str, Any] = {"count": count, "sum": count * mean_value}
    for key, z in _Z.items():
        arm[key] = median * math.exp(z * sigma)
    return arm


def prop_minutes(
    *minutes: tuple[int, int, int, int], margin: float = 0.005, **extra: Any
) -> dict[str, Any]:
    """A per-minute proportion metric from (baseline events, trials, canary events, trials)."""
    arms = [
        ({"events": xb, "trials": nb}, {"events": xc, "trials": nc}) for xb, nb, xc, nc in minutes
    ]
    return _per_minute("proportion", "error_rate", margin, arms, extra)


def mean_minutes(
    *minutes: tuple[int, float, int, float], margin: float = 5.0, **extra: Any
) -> dict[str, Any]:
    """A per-minute mean metric from (baseline count, mean, canary count, mean), log-normal."""
    arms = [(mean_minute(nb, mb), mean_minute(nc, mc)) for nb, mb, nc, mc in minutes]
    return _per_minute("mean", "latency_ms", margin, arms, extra)


def _per_minute(
    kind: str, name: str, margin: float, arms: list[tuple[dict, dict]], extra: dict[str, Any]
) -> dict[str, Any]:
    return {
        "name": extra.pop("name", name),
        "kind": kind,
        "margin": margin,
        "minutes": [{"baseline": b, "canary": c} for b, c in arms],
        **extra,
    }
