"""guardrails.judge.sequential through evaluate: monotonicity, bounds that invert the tests."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from guardrails.judge import evaluate
from guardrails.judge.request import parse_request
from guardrails.judge.sequential import layout, mean_tests, proportion_tests
from tests.unit.judge.builders import decide, mean, prop

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


@st.composite
def mean_metric(draw: st.DrawFn) -> dict[str, Any]:
    sd = draw(st.floats(0, 30))
    baseline = (draw(st.integers(2, 50_000)), 50.0, sd)
    canary = (draw(st.integers(2, 10_000)), 50.0 + draw(st.floats(-10, 10)), sd)
    metric = mean(baseline, canary, margin=draw(st.floats(0.1, 5)))
    metric["higher_is_worse"] = draw(st.booleans())
    return metric


@settings(max_examples=60, deadline=None)
@given(mean_metric())
def test_mean_bounds_invert_the_tests(metric: dict[str, Any]) -> None:
    parsed = parse_request({"metrics": [metric]}).metrics[0]
    a_reg, a_prom = 0.01, 0.05
    t = mean_tests(parsed, layout(parsed, 0), a_reg, a_prom)
    sign = 1 if parsed.higher_is_worse else -1
    assert t.d_harm == pytest.approx(sign * (parsed.canary.value - parsed.baseline.value))
    lo, hi = t.ci_harm
    assert lo <= t.d_harm <= hi
    # lower bound > 0 <=> the regression test rejects; upper < margin <=> non-inferiority does.
    level_reg, level_prom = math.log(1 / a_reg), math.log(1 / a_prom)
    if abs(t.log_lr_reg - level_reg) > 1e-6:
        assert (lo > 0) == (t.log_lr_reg > level_reg)
    if abs(t.log_lr_prom - level_prom) > 1e-6:
        assert (hi < parsed.margin) == (t.log_lr_prom > level_prom)


def test_proportion_tests_see_harm_in_the_rarer_outcome() -> None:
    # Accuracy 95% -> 85%: fewer correct answers is harmful when higher is not worse.
    metric = prop(18050, 19000, 850, 1000, margin=0.02, higher_is_worse=False)
    parsed = parse_request({"metrics": [metric]}).metrics[0]
    t = proportion_tests(parsed, layout(parsed, 0), 0.025, 0.05)
    assert t.estimate == pytest.approx(0.85 - 0.95)
    assert t.d_harm == pytest.approx(0.10)
    assert t.ci_harm[0] > 0 and t.log_lr_reg > math.log(1 / 0.025)
    assert t.log_lr_limit is None and t.limit_harm is None
