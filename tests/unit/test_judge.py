"""guardrails.judge.evaluate: end-to-end cases, properties, bad input, schema, simulation."""

from __future__ import annotations

import copy
import json
import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from guardrails import judge
from guardrails.judge import JudgeInputError, evaluate, simulate_sequential

DOCS = Path(__file__).resolve().parents[2] / "docs" / "judge.md"

# The issue's example request, shared with the CLI tests and the benchmark.
ISSUE_REQUEST: dict[str, Any] = json.loads(
    (Path(__file__).resolve().parents[1] / "fixtures" / "judge_request.json").read_text()
)


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


# --------------------------------------------------------------------------- end to end


def test_issue_example() -> None:
    req = copy.deepcopy(ISSUE_REQUEST)
    res = evaluate(req)
    assert req == ISSUE_REQUEST  # the request is not mutated
    assert set(res) == {"decision", "reason", "metrics"}
    err, lat = res["metrics"]
    # 2.8 ms slower on 612 requests with sd ~10 is a clear (if small) regression.
    assert lat["decision"] == "rollback"
    assert res["decision"] == "rollback"
    assert "latency_ms" in res["reason"] and "error_rate" not in res["reason"]
    assert err["decision"] == "continue"
    for m in res["metrics"]:
        assert {"name", "decision", "estimate", "ci", "p_value", "reason"} <= set(m)
        assert m["ci"][0] <= m["estimate"] <= m["ci"][1]
        assert 0.0 <= m["p_value"] <= 1.0
        assert m["alpha"] == pytest.approx(0.05 / 2 * 0.9)  # Bonferroni, 10% to the limit
    assert err["estimate"] == pytest.approx(9 / 612 - 57 / 11843)
    assert lat["estimate"] == pytest.approx(2.8)
    assert lat["p_value"] <= lat["alpha"] < err["p_value"]
    json.dumps(res, allow_nan=False)


def test_gross_failure_rolls_back_at_first_look_after_min_samples() -> None:
    metric = prop(19, 1900, 20, 100, limit=0.01)
    assert decide(metric) == "rollback"
    res = evaluate({"metrics": [metric]})
    assert "limit" in res["reason"] and "regression" in res["reason"]
    # ... but not before min_samples.
    assert decide(prop(19, 1900, 20, 99, limit=0.01)) == "continue"
    assert "min_samples" in evaluate({"metrics": [prop(19, 1900, 20, 99)]})["reason"]


def test_limit_breach_alone_rolls_back() -> None:
    # Canary equals the baseline, but both sit well above the absolute ceiling.
    res = evaluate({"metrics": [prop(1000, 10000, 200, 2000, limit=0.05)]})
    assert res["decision"] == "rollback"
    assert "limit" in res["reason"] and "regression" not in res["reason"]
    assert res["metrics"][0]["limit_p_value"] < 0.005


def test_floor_limit_for_accuracy() -> None:
    acc_bad = prop(18050, 19000, 850, 1000, margin=0.02, higher_is_worse=False, limit=0.9)
    assert decide(acc_bad) == "rollback"
    res = evaluate({"metrics": [acc_bad]})["metrics"][0]
    assert res["ci"][1] < 0  # accuracy dropped: canary - baseline is negative


def test_promote_when_equal_and_enough_data() -> None:
    res = evaluate(
        {
            "metrics": [
                prop(400, 40000, 50, 5000),
                mean((40000, 45.0, 24.0), (5000, 45.1, 24.0), margin=2.0),
            ]
        }
    )
    assert res["decision"] == "promote"
    for m in res["metrics"]:
        assert m["decision"] == "promote"
        assert m["ci"][1] < (0.005 if m["name"] == "error_rate" else 2.0)


def test_promote_blocked_by_point_estimate_above_limit() -> None:
    res = evaluate({"metrics": [prop(400, 40000, 50, 5000, limit=0.0099)]})
    assert res["decision"] == "continue"
    assert "limit" in res["metrics"][0]["reason"]


def test_one_unpromotable_metric_blocks_promotion() -> None:
    ok = prop(400, 40000, 50, 5000)
    unsure = mean((40000, 45.0, 24.0), (200, 45.0, 24.0), margin=2.0)
    res = evaluate({"metrics": [ok, unsure]})
    assert res["decision"] == "continue"
    assert "latency_ms" in res["reason"]


def test_improvement_never_rolls_back() -> None:
    assert decide(prop(400, 20000, 0, 2000)) != "rollback"
    assert decide(mean((20000, 45.0, 10.0), (2000, 30.0, 10.0))) == "promote"
    lower_worse = mean((20000, 0.90, 0.3), (2000, 0.99, 0.1), margin=0.01, higher_is_worse=False)
    assert decide(lower_worse) == "promote"


def test_zero_variance_does_not_crash() -> None:
    for metric in (
        prop(0, 2000, 0, 100),
        prop(0, 40000, 0, 5000),
        prop(2000, 2000, 100, 100),
        mean((1000, 40.0, 0.0), (100, 40.0, 0.0)),
        mean((1000, 40.0, 0.0), (100, 50.0, 0.0)),
        mean((1, 40.0, 0.0), (1, 40.0, 0.0)),
    ):
        res = evaluate({"metrics": [metric], "min_samples": 1})
        json.dumps(res, allow_nan=False)
        for v in (res["metrics"][0]["estimate"], res["metrics"][0]["p_value"]):
            assert math.isfinite(v)
    assert decide(prop(0, 40000, 0, 5000)) == "promote"
    assert decide(mean((1000, 40.0, 0.0), (100, 50.0, 0.0))) == "rollback"
    assert decide(prop(0, 2000, 0, 100)) == "continue"  # 0/100 cannot prove < 0.5 pp


# --------------------------------------------------------------------------- missing data


@pytest.mark.parametrize(
    ("request_", "words"),
    [
        ({}, "no metrics"),
        ({"metrics": []}, "no metrics"),
        ({"metrics": None}, "no metrics"),
        ({"metrics": [{"name": "e", "kind": "proportion", "margin": 0.01}]}, "baseline and canary"),
        ({"metrics": [prop(1, 100, 0, 0)]}, "canary has 0 trials"),
        ({"metrics": [{**prop(1, 100, 0, 0), "canary": None}]}, "canary missing"),
        ({"metrics": [{**prop(1, 100, 0, 0), "canary": {}}]}, "canary missing"),
        ({"metrics": [mean((0, 0.0, 0.0), (10, 1.0, 1.0))]}, "baseline has 0 samples"),
        ({"metrics": [{**mean((10, 1, 1), (10, 1, 1)), "baseline": {"n": 0}}]}, "baseline"),
    ],
)
def test_missing_data_continues_with_reason(request_: dict[str, Any], words: str) -> None:
    res = evaluate(request_)
    assert res["decision"] == "continue"
    assert words in res["reason"]


def test_missing_metric_never_promotes_but_others_can_roll_back() -> None:
    good = prop(400, 40000, 50, 5000)
    missing = {"name": "lat", "kind": "mean", "margin": 1.0}
    assert decide(good, missing) == "continue"
    bad = prop(400, 40000, 150, 5000)
    assert decide(bad, missing) == "rollback"


# --------------------------------------------------------------------------- bad input


def with_metric(i: int, **changes: Any) -> dict[str, Any]:
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


DELETE = object()


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
            r"^metrics\[0\]\.canary\.trials: must be >= events \(9 > 5\)$",
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


def test_unknown_top_level_fields_are_ignored() -> None:
    req = {**ISSUE_REQUEST, "deployment_id": "abc"}
    assert evaluate(req)["decision"] == evaluate(ISSUE_REQUEST)["decision"]


def test_defaults() -> None:
    req = copy.deepcopy(ISSUE_REQUEST)
    del req["alpha"], req["min_samples"]
    for m in req["metrics"]:
        del m["limit"], m["higher_is_worse"]
    res = evaluate(req)
    assert res["metrics"][0]["alpha"] == pytest.approx(judge.DEFAULT_ALPHA / 2)
    assert res["decision"] == "rollback"


# --------------------------------------------------------------------------- properties

RANK = {"promote": 0, "continue": 1, "rollback": 2}
counts = st.integers(100, 50_000)


@st.composite
def proportion_case(draw: st.DrawFn) -> tuple[int, int, int, int]:
    nb, nc = draw(counts), draw(st.integers(100, 10_000))
    rate = draw(st.floats(0.0, 0.3))
    xb = draw(st.integers(0, min(nb, int(nb * rate) + 1)))
    xc = draw(st.integers(0, min(nc, int(nc * rate * 2) + 1)))
    return xb, nb, xc, nc


@settings(max_examples=40, deadline=None)
@given(proportion_case(), st.integers(1, 200), st.booleans())
def test_more_harm_never_turns_rollback_into_promote(
    case: tuple[int, int, int, int], extra: int, higher_is_worse: bool
) -> None:
    xb, nb, xc, nc = case
    if not higher_is_worse:  # harm = fewer events
        xc, extra = nc - xc, -extra
    worse = min(max(xc + extra, 0), nc)
    before = decide(prop(xb, nb, xc, nc, higher_is_worse=higher_is_worse))
    after = decide(prop(xb, nb, worse, nc, higher_is_worse=higher_is_worse))
    if before == "rollback":
        assert after == "rollback"
    assert not (before == "rollback" and after == "promote")


@settings(max_examples=40, deadline=None)
@given(
    st.integers(100, 50_000),
    st.integers(100, 10_000),
    st.floats(-5, 5),
    st.floats(0, 20),
    st.floats(0.5, 30),
    st.floats(0.1, 5),
)
def test_means_monotone_in_harm(
    nb: int, nc: int, diff: float, extra: float, sd: float, margin: float
) -> None:
    before = decide(mean((nb, 50.0, sd), (nc, 50.0 + diff, sd), margin=margin))
    after = decide(mean((nb, 50.0, sd), (nc, 50.0 + diff + extra, sd), margin=margin))
    assert RANK[after] >= RANK[before]


@settings(max_examples=40, deadline=None)
@given(proportion_case(), st.sampled_from([0.001, 0.005, 0.02]))
def test_response_invariants(case: tuple[int, int, int, int], margin: float) -> None:
    xb, nb, xc, nc = case
    res = evaluate({"metrics": [prop(xb, nb, xc, nc, margin=margin)]})
    json.dumps(res, allow_nan=False)
    m = res["metrics"][0]
    assert 0.0 <= m["p_value"] <= 1.0
    lo, hi = m["ci"]
    assert lo <= m["estimate"] + 1e-12 and m["estimate"] <= hi + 1e-12
    # The ci inverts the decision tests: lower bound > 0 <=> rollback; upper < margin <=> promote.
    if m["decision"] == "rollback":
        assert lo > -1e-9
    if lo > 1e-6:
        assert m["decision"] == "rollback"
    if m["decision"] == "promote":
        assert hi < margin + 1e-9
    if hi < margin * (1 - 1e-4) and m["decision"] != "rollback":
        assert m["decision"] == "promote"


@settings(max_examples=30, deadline=None)
@given(proportion_case())
def test_swapping_arms_flips_the_estimate(case: tuple[int, int, int, int]) -> None:
    xb, nb, xc, nc = case
    a = evaluate({"metrics": [prop(xb, nb, xc, nc)]})["metrics"][0]
    b = evaluate({"metrics": [prop(xc, nc, xb, nb)]})["metrics"][0]
    assert b["estimate"] == pytest.approx(-a["estimate"])


def test_false_rollback_rate_small_by_simulation() -> None:
    """A quick Monte Carlo (the bench runs the full one): no difference, 40 looks."""
    rng = np.random.default_rng(3)
    runs, looks = 150, 40
    xb = rng.binomial(1900, 0.01, size=(runs, looks)).cumsum(axis=1)
    xc = rng.binomial(100, 0.01, size=(runs, looks)).cumsum(axis=1)
    rollbacks = 0
    for r in range(runs):
        for j in range(looks):
            d = decide(prop(int(xb[r, j]), 1900 * (j + 1), int(xc[r, j]), 100 * (j + 1)))
            if d != "continue":
                rollbacks += d == "rollback"
                break
    assert rollbacks / runs <= 0.08  # alpha 0.05 plus Monte Carlo slack


# --------------------------------------------------------------------------- schema


def _schemas() -> dict[str, Any]:
    text = DOCS.read_text()
    blocks = re.findall(r"```json\n(.*?)```", text, flags=re.S)
    found = {}
    for block in blocks:
        doc = json.loads(block)
        if isinstance(doc, dict) and "$schema" in doc:
            found[doc["title"]] = doc
    return found


def test_documented_schemas_accept_requests_and_responses() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    schemas = _schemas()
    req_schema, resp_schema = schemas["JudgeRequest"], schemas["JudgeResponse"]
    jsonschema.validate(ISSUE_REQUEST, req_schema)
    for req in (ISSUE_REQUEST, {}, {"metrics": [prop(1, 100, 0, 0)]}):
        jsonschema.validate(evaluate(req), resp_schema)
    bad = with_metric(0, canary__trials=-1)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, req_schema)


# --------------------------------------------------------------------------- simulation


def test_simulate_sequential_shapes_and_determinism() -> None:
    a = simulate_sequential(0.01, 0.005, 0.01, runs=20, seed=1, max_canary=5000)
    b = simulate_sequential(0.01, 0.005, 0.01, runs=20, seed=1, max_canary=5000)
    assert a == b
    assert a["rollback_rate"] + a["promote_rate"] + a["continue_rate"] == pytest.approx(1.0)
    assert 100 <= a["mean_canary_samples"] <= 5000
    assert a["p95_canary_samples"] <= 5000
    assert a["baseline_per_look"] == 1900


def test_simulate_sequential_gross_failure() -> None:
    r = simulate_sequential(0.01, 0.005, 0.19, runs=10, seed=2)
    assert r["rollback_rate"] == 1.0
    assert r["mean_canary_samples"] == 100


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"p0": 0.0}, "p0"),
        ({"margin": 0.0}, "margin"),
        ({"true_delta": 0.995}, "true_delta"),
        ({"canary_share": 1.0}, "canary_share"),
        ({"look_every": 0}, "look_every"),
        ({"runs": 0}, "runs"),
    ],
)
def test_simulate_sequential_bad_input(kwargs: dict[str, Any], field: str) -> None:
    args = {"p0": 0.01, "margin": 0.005, "true_delta": 0.0, **kwargs}
    with pytest.raises(ValueError, match=field):
        simulate_sequential(**args)


@pytest.mark.parametrize(("n", "p"), [(1900, 0.01), (100, 0.3), (50, 0.9), (10, 0.0), (10, 1.0)])
def test_binomial_sampler_moments(n: int, p: float) -> None:
    import random

    rng = random.Random(5)
    draws = np.array([judge._binomial(rng, n, p) for _ in range(4000)])
    assert draws.min() >= 0 and draws.max() <= n
    assert draws.mean() == pytest.approx(n * p, abs=4 * math.sqrt(n * p * (1 - p) / 4000) + 1e-9)
    assert draws.var() == pytest.approx(n * p * (1 - p), rel=0.1, abs=1e-9)
