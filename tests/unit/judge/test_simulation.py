"""guardrails.judge.simulation: the one Monte Carlo of the judge, both metric kinds."""

from __future__ import annotations

import math
import random
from typing import Any

import numpy as np
import pytest

from guardrails.judge import simulation
from guardrails.judge.simulation import simulate_sequential

# --------------------------------------------------------------------------- scenarios


def _scenario(kind: str = "proportion", **overrides) -> simulation.Scenario:
    values = dict(
        kind=kind,
        baseline=0.01 if kind == "proportion" else 40.0,
        std=0.0 if kind == "proportion" else 10.0,
        margin=0.005 if kind == "proportion" else 2.0,
        alpha=0.05,
        min_samples=100,
        canary_per_look=300,
        baseline_per_look=2700,
        max_looks=60,
        interval_seconds=60,
    )
    return simulation.Scenario(**{**values, **overrides})


@pytest.mark.parametrize("kind", ["proportion", "mean"])
def test_a_gross_regression_is_rolled_back_at_once_and_no_regression_is_not(kind):
    scenario = _scenario(kind)
    gross = simulation.simulate(scenario, 4 * scenario.margin, runs=20, seed=1)
    assert gross.rollback_rate == 1.0
    assert gross.mean_seconds <= 3 * 60
    same = simulation.simulate(scenario, 0.0, runs=20, seed=1)
    assert same.rollback_rate <= 0.1
    assert same.promote_rate >= 0.8


def test_undecided_runs_count_at_the_time_limit():
    # A regression of half the margin at a trickle of traffic cannot be decided in two looks.
    scenario = _scenario(canary_per_look=5, baseline_per_look=45, max_looks=2, min_samples=100)
    summary = simulation.simulate(scenario, 0.0025, runs=10, seed=3)
    assert summary.undecided_rate == 1.0
    assert summary.mean_seconds == summary.p95_seconds == 120
    assert summary.p95_canary_n == 10


def test_the_simulation_is_reproducible_by_seed():
    scenario = _scenario("mean")
    first = simulation.simulate(scenario, 1.0, runs=10, seed=7)
    assert simulation.simulate(scenario, 1.0, runs=10, seed=7) == first


def test_mean_batches_have_the_right_spread():
    arm = simulation.NormalSummary()
    rng = random.Random(5)
    for _ in range(50):
        arm.add(rng, 200, 40.0, 10.0)
    summary = arm.summary()
    assert summary["n"] == 10_000
    assert summary["mean"] == pytest.approx(40.0, abs=0.5)
    assert summary["std"] == pytest.approx(10.0, rel=0.03)


def test_a_proportion_rollout_is_the_same_through_either_entry_point():
    # One simulator: seed 0's first scenario run is simulate_sequential's one run at seed 0.
    scenario = _scenario(canary_per_look=200, baseline_per_look=1800, max_looks=25)
    (outcome,) = simulation.outcomes(scenario, 0.005, runs=1, seed=0)
    single = simulate_sequential(
        scenario.baseline,
        scenario.margin,
        0.005,
        canary_share=scenario.canary_share,
        look_every=scenario.canary_per_look,
        max_canary=scenario.canary_per_look * scenario.max_looks,
        runs=1,
        seed=0,
    )
    assert single["baseline_per_look"] == scenario.baseline_per_look
    assert single["mean_canary_samples"] == outcome.canary_n == outcome.looks * 200
    assert single[f"{outcome.decision}_rate"] == 1.0


@pytest.mark.parametrize(
    ("overrides", "true_delta", "field"),
    [
        ({"canary_per_look": 0}, 0.0, "canary_per_look"),
        ({"baseline_per_look": 2.5}, 0.0, "baseline_per_look"),
        ({"max_looks": 0}, 0.0, "max_looks"),
        ({}, 0.995, "true_delta"),
        ({}, -0.02, "true_delta"),
    ],
)
def test_impossible_scenarios_raise_naming_the_field(overrides, true_delta, field):
    with pytest.raises(ValueError, match=f"^{field}:"):
        simulation.simulate(_scenario(**overrides), true_delta, runs=1, seed=0)


# --------------------------------------------------------------------------- simulate_sequential


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
    rng = random.Random(5)
    draws = np.array([simulation.binomial(rng, n, p) for _ in range(4000)])
    assert draws.min() >= 0 and draws.max() <= n
    assert draws.mean() == pytest.approx(n * p, abs=4 * math.sqrt(n * p * (1 - p) / 4000) + 1e-9)
    assert draws.var() == pytest.approx(n * p * (1 - p), rel=0.1, abs=1e-9)
