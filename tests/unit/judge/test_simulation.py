"""guardrails.judge.simulation: Monte Carlo of the judge on an error-rate metric."""

from __future__ import annotations

import math
import random
from typing import Any

import numpy as np
import pytest

from guardrails.judge import simulation
from guardrails.judge.simulation import simulate_sequential


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
