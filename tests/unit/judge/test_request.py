"""guardrails.judge.request: parsing, defaults and field-path errors of malformed requests."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from guardrails import judge
from guardrails.judge import JudgeInputError, evaluate
from guardrails.judge.request import Arm, parse_request
from tests.unit.judge.builders import DELETE, ISSUE_REQUEST, mean, prop, with_metric

# --------------------------------------------------------------------------- parsing


def test_parses_the_issue_example_into_typed_arms() -> None:
    req = parse_request(ISSUE_REQUEST)
    assert (req.alpha, req.min_samples) == (ISSUE_REQUEST["alpha"], ISSUE_REQUEST["min_samples"])
    err, lat = req.metrics
    assert (err.kind, lat.kind) == ("proportion", "mean")
    raw = ISSUE_REQUEST["metrics"][0]["canary"]
    assert err.canary == Arm(
        n=raw["trials"], value=raw["events"] / raw["trials"], events=raw["events"]
    )
    raw = ISSUE_REQUEST["metrics"][1]["baseline"]
    assert lat.baseline == Arm(n=raw["n"], value=raw["mean"], std=raw["std"])


@pytest.mark.parametrize("arm", [None, {}, DELETE])
def test_an_absent_arm_is_no_data_not_an_error(arm: Any) -> None:
    metric = prop(1, 100, 1, 100)
    if arm is DELETE:
        del metric["canary"]
    else:
        metric["canary"] = arm
    parsed = parse_request({"metrics": [metric]}).metrics[0]
    assert parsed.canary is None
    assert parsed.baseline == Arm(n=100, value=0.01, events=1)


def test_an_empty_mean_arm_needs_no_mean_or_std() -> None:
    metric = mean((0, 0.0, 0.0), (10, 1.0, 1.0))
    metric["baseline"] = {"n": 0, "mean": None}
    assert parse_request({"metrics": [metric]}).metrics[0].baseline == Arm(n=0, value=0.0)


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("request_", "message"),
    [
        ([], r"^request: must be an object"),
        ({"alpha": 0}, r"^alpha: must be in \(0, 0\.5\]"),
        ({"alpha": 0.6}, r"^alpha:"),
        ({"alpha": -0.1}, r"^alpha:"),
        ({"alpha": float("nan")}, r"^alpha: must be finite"),
        ({"alpha": True}, r"^alpha: must be a number"),
        ({"alpha": "0.05"}, r"^alpha: must be a number"),
        ({"min_samples": 0}, r"^min_samples: must be >= 1"),
        ({"min_samples": 10.5}, r"^min_samples: must be a whole number"),
        ({"metrics": {"name": "x"}}, r"^metrics: must be a list"),
        ({"metrics": ["x"]}, r"^metrics\[0\]: must be an object"),
        (with_metric(1, canary__events=3), r"^metrics\[1\]\.canary\.events: unknown field"),
        (
            with_metric(0, canary__events=9, canary__trials=5),
            r"^metrics\[0\]\.canary\.trials: must be >= events \(9 > 5\) "
            r"\(metric 'error_rate'\)$",
        ),
        (with_metric(0, baseline__events=-1), r"^metrics\[0\]\.baseline\.events: must be >= 0"),
        (
            with_metric(0, baseline__trials=10.5),
            r"^metrics\[0\]\.baseline\.trials: must be a whole",
        ),
        (with_metric(0, canary__trials=DELETE), r"^metrics\[0\]\.canary\.trials: required"),
        (
            with_metric(0, canary__trials=float("inf")),
            r"^metrics\[0\]\.canary\.trials: must be fin",
        ),
        (with_metric(1, canary__std=-1.0), r"^metrics\[1\]\.canary\.std: must be >= 0"),
        (with_metric(1, canary__mean=float("nan")), r"^metrics\[1\]\.canary\.mean: must be finite"),
        (with_metric(1, canary__mean=None), r"^metrics\[1\]\.canary\.mean: required when n > 0"),
        (with_metric(1, baseline__n=-5), r"^metrics\[1\]\.baseline\.n: must be >= 0"),
        (with_metric(1, kind="median"), r"^metrics\[1\]\.kind: must be one of proportion, mean"),
        (with_metric(0, kind=DELETE), r"^metrics\[0\]\.kind"),
        (with_metric(0, name=DELETE), r"^metrics\[0\]\.name: required"),
        (with_metric(0, name="  "), r"^metrics\[0\]\.name: required"),
        (with_metric(1, name="error_rate"), r"^metrics\[1\]\.name: duplicate"),
        (with_metric(0, margin=0), r"^metrics\[0\]\.margin: must be > 0"),
        (with_metric(0, margin=-0.01), r"^metrics\[0\]\.margin: must be > 0"),
        (with_metric(0, margin=0.7), r"^metrics\[0\]\.margin: must be < 0\.5"),
        (with_metric(0, margin=DELETE), r"^metrics\[0\]\.margin: required"),
        (with_metric(0, margin=float("nan")), r"^metrics\[0\]\.margin: must be finite"),
        (with_metric(0, limit=1.5), r"^metrics\[0\]\.limit: must be in \(0, 1\)"),
        (with_metric(1, limit="500"), r"^metrics\[1\]\.limit: must be a number"),
        (with_metric(0, higher_is_worse="yes"), r"^metrics\[0\]\.higher_is_worse"),
        (with_metric(0, threshold=3), r"^metrics\[0\]\.threshold: unknown field"),
        (with_metric(0, canary=[9, 612]), r"^metrics\[0\]\.canary: must be an object"),
    ],
)
def test_bad_input_raises_with_field_path(request_: Any, message: str) -> None:
    with pytest.raises(JudgeInputError, match=message):
        evaluate(request_)


def test_judge_input_error_is_a_value_error() -> None:
    assert issubclass(JudgeInputError, ValueError)


def test_a_typo_at_the_top_level_is_an_error_not_the_default() -> None:
    # "alpah" used to be ignored silently: the judge then ran at 0.05.
    with pytest.raises(JudgeInputError, match=r"^alpah: unknown field \(allowed: alpha, "):
        evaluate({**ISSUE_REQUEST, "alpah": 0.001})


def test_defaults() -> None:
    req = copy.deepcopy(ISSUE_REQUEST)
    del req["alpha"], req["min_samples"]
    for m in req["metrics"]:
        del m["limit"], m["higher_is_worse"]
    res = evaluate(req)
    assert res["metrics"][0]["alpha"] == pytest.approx(judge.DEFAULT_ALPHA / 2)
    assert res["decision"] == "rollback"
