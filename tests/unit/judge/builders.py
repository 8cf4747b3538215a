"""Judge requests for the tests: the issue's example, one-metric builders, field edits."""

from __future__ import annotations

import copy
import json
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
