"""guardrails.judge.sequential's per-minute machinery: strata, restarts, spread estimates."""

from __future__ import annotations

import dataclasses
import math
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from guardrails import stats
from guardrails.judge.request import MeanMinute, parse_request
from guardrails.judge.sequential import (
    _LOG_W,
    _NODES,
    DIFF_MINUTES,
    LATE_SHARE,
    RESTART_EVERY,
    RESTARTS,
    _decreasing_root,
    _differences_variance,
    _log_spread,
    _MeanStratum,
    _Split,
    _split_log_lrs,
    layout,
    proportion_tests,
)
from tests.unit.judge.builders import mean_minute, prop_minutes

LOG_R = tuple(0.7 * z for z in _NODES)


def split(rows: list[tuple[int, int, float]], starts: tuple[int, ...] = (0,)) -> _Split:
    return _Split(
        xs=tuple(r[0] for r in rows),
        ts=tuple(r[1] for r in rows),
        shares=tuple(r[2] for r in rows),
        starts=starts,
    )


@settings(max_examples=50, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 30), st.integers(0, 30)), min_size=1, max_size=8),
    st.floats(0.02, 0.9),
)
def test_strata_of_one_share_give_the_cumulative_split_test(
    counts: list[tuple[int, int]], share: float
) -> None:
    # With one canary share throughout, the product over minutes is the cumulative test.
    rows = [(x, x + y, share) for x, y in counts]
    value, _ = _split_log_lrs(split(rows), LOG_R, 0.0)[0]
    x, t = sum(r[0] for r in rows), sum(r[1] for r in rows)
    logit = math.log(share / (1 - share))
    assert value == pytest.approx(stats.split_log_lr(x, t, logit, LOG_R, _LOG_W), abs=1e-9)


def test_each_minute_keeps_its_own_share() -> None:
    rows = [(1, 10, 0.1), (5, 10, 0.5)]
    value, _ = _split_log_lrs(split(rows), LOG_R, 0.0)[0]
    by_hand = [
        lw + sum(x * lr - t * math.log1p(p * (math.exp(lr) - 1)) for x, t, p in rows)
        for lr, lw in zip(LOG_R, _LOG_W, strict=True)
    ]
    assert value == pytest.approx(stats.logsumexp(by_hand))


def test_the_slope_is_the_derivative_in_the_null_ratio() -> None:
    rows = [(3, 20, 0.1), (1, 12, 0.3), (7, 40, 0.25)]
    for log_rho in (-1.0, 0.0, 0.4):
        _, slope = _split_log_lrs(split(rows), LOG_R, log_rho)[0]
        h = 1e-6
        up = _split_log_lrs(split(rows), LOG_R, log_rho + h)[0][0]
        down = _split_log_lrs(split(rows), LOG_R, log_rho - h)[0][0]
        assert slope == pytest.approx((up - down) / (2 * h), rel=1e-5, abs=1e-7)


def test_restarts_are_suffixes_of_the_minutes() -> None:
    rows = [(1, 10, 0.1)] * 3 + [(6, 10, 0.1)] * 2
    whole, late = _split_log_lrs(split(rows, starts=(0, 3)), LOG_R, 0.0)
    assert late[0] == pytest.approx(_split_log_lrs(split(rows[3:]), LOG_R, 0.0)[0][0])
    assert late[0] > whole[0]


def test_the_layout_restarts_after_warm_up_and_weights_sum_to_one() -> None:
    metric = prop_minutes(*[(1, 100, 1, 10)] * 40)
    metric["minutes"][:3] = [{"baseline": {"events": 1, "trials": 100}, "canary": None}] * 3
    lay = layout(parse_request({"metrics": [metric]}).metrics[0], warmup_minutes=2)
    assert lay.tested[0] == 5  # minutes 3 and 4 are the canary's warm-up
    assert lay.starts[:2] == (5 + RESTART_EVERY, 5 + 2 * RESTART_EVERY)
    assert len(lay.starts) == RESTARTS
    assert sum(math.exp(w) for w in lay.log_weights) == pytest.approx(1.0)
    assert math.exp(lay.log_weights[0]) == pytest.approx(1 - LATE_SHARE)
    cumulative = parse_request({"metrics": [prop_minutes((1, 100, 1, 10))]}).metrics[0]
    cumulative = dataclasses.replace(cumulative, minutes=None)  # cumulative form
    assert layout(cumulative, 2).log_weights == (0.0,)  # one test, whole weight, no warm-up


@pytest.mark.parametrize("root", [-3.0, 0.5, 12.0])
@pytest.mark.parametrize("start", [-20.0, 0.0, 30.0])
def test_the_root_finder_finds_decreasing_roots_from_anywhere(root: float, start: float) -> None:
    def f(x: float) -> tuple[float, float]:
        # Decreasing, flat far away (like a log-likelihood ratio that saturates).
        return math.atan(root - x), -1.0 / (1.0 + (root - x) ** 2)

    assert _decreasing_root(f, start, 1.0, 1e-8, 60.0) == pytest.approx(root, abs=1e-6)


def test_the_root_finder_reports_a_root_beyond_its_bound() -> None:
    assert _decreasing_root(lambda x: (-1.0, 0.0), 0.0, 1.0, 1e-6, 60.0) == -60.0
    assert _decreasing_root(lambda x: (1.0, 0.0), 0.0, 1.0, 1e-6, 60.0) == 60.0


def test_the_log_normal_fit_recovers_the_spread() -> None:
    for sigma in (0.5, 1.0, 1.5):
        arms = []
        for mean_value in (40.0, 50.0, 65.0):  # the level changes, the shape does not
            arm = mean_minute(500, mean_value, sigma)
            arms.append(
                MeanMinute(
                    500, arm["sum"], arm["min"], arm["max"], arm["p50"], arm["p90"], arm["p99"]
                )  # fmt: skip
            )
        assert _log_spread(arms) == pytest.approx(sigma * sigma, rel=1e-3)


def test_a_tail_heavier_than_log_normal_widens_the_fit() -> None:
    # Same median and p90 as a log-normal with sigma 1, but a mean twice as far above the
    # median (rare, very slow requests): the mean-based estimate takes over.
    arm = mean_minute(500, 50.0)
    heavy = MeanMinute(500, 2 * arm["sum"], arm["min"], arm["max"] * 10, arm["p50"],
                       arm["p90"], arm["p99"])  # fmt: skip
    assert _log_spread([heavy]) > 1.5


def strata(differences: list[float], weight: float = 90.0) -> list[_MeanStratum]:
    return [
        _MeanStratum(i, 900, 100, 50.0, 50.0 + d, 1.0, 1.0, 1.0, weight)
        for i, d in enumerate(differences)
    ]


def test_the_spread_of_the_differences_is_unbiased_and_ignores_a_step() -> None:
    rng = random.Random(7)
    sigma2, weight = 4000.0, 90.0
    estimates = []
    for _ in range(400):
        noise = [rng.gauss(0, math.sqrt(sigma2 / weight)) for _ in range(60)]
        estimates.append(_differences_variance(strata(noise), 1.0))
    assert sum(e for e in estimates if e) / len(estimates) == pytest.approx(sigma2, rel=0.05)
    # A trend and one large step barely move it.
    noise = [rng.gauss(0, math.sqrt(sigma2 / weight)) for _ in range(60)]
    shifted = [n + 0.2 * i + (100.0 if i > 30 else 0.0) for i, n in enumerate(noise)]
    ratio = _differences_variance(strata(shifted), 1.0) / _differences_variance(strata(noise), 1.0)
    assert 0.7 < ratio < 1.5


def test_the_spread_of_the_differences_waits_for_enough_minutes() -> None:
    assert _differences_variance(strata([1.0] * (DIFF_MINUTES - 1)), 1.0) is None
    assert _differences_variance(strata([1.0, 2.0] * DIFF_MINUTES), 1.0) is not None


def test_proportion_bounds_invert_the_per_minute_test() -> None:
    rng = random.Random(3)
    for _ in range(30):
        minutes = [
            (rng.randint(0, 15), 900, rng.randint(0, 5), 100) for _ in range(rng.randint(1, 40))
        ]
        metric = parse_request({"metrics": [prop_minutes(*minutes)]}).metrics[0]
        t = proportion_tests(metric, layout(metric, 0), 0.01, 0.05)
        assert t.ci_harm is not None and t.log_lr_reg is not None
        if abs(t.log_lr_reg - math.log(100)) > 1e-3:
            assert (t.ci_harm[0] > 0) == (t.log_lr_reg > math.log(100))
