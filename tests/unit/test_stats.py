"""guardrails.stats against the seed's numbers, scipy/numpy references and bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate
from scipy.stats import binom, multivariate_normal, norm

from guardrails import stats

# --------------------------------------------------------------------------- seed's numbers


def test_required_sample_size_seed_vector() -> None:
    assert stats.required_sample_size(0.01, 0.02, 0.02, alpha=0.05, power=0.8) == 63


def test_required_sample_size_matches_scipy_formula() -> None:
    for delta, sa, sb, alpha, power, two_sided in [
        (0.01, 0.02, 0.02, 0.05, 0.8, False),
        (2.0, 24.0, 25.0, 0.01, 0.9, True),
        (-0.5, 1.0, 3.0, 0.1, 0.95, False),
    ]:
        z_a = norm.isf(alpha / 2) if two_sided else norm.isf(alpha)
        expected = math.ceil((z_a + norm.ppf(power)) ** 2 * (sa**2 + sb**2) / delta**2)
        got = stats.required_sample_size(delta, sa, sb, alpha, power, two_sided)
        assert got == expected


def test_required_sample_size_defaults_and_ratio() -> None:
    assert stats.required_sample_size(0.01, 0.02) == 63  # sigma_b defaults to sigma_a
    # 19:1 allocation: the small arm needs (sa^2/19 + sb^2) instead of (sa^2 + sb^2).
    z = norm.isf(0.05) + norm.ppf(0.95)
    p0, p1 = 0.01, 0.02
    expected = math.ceil(z**2 * (p0 * (1 - p0) / 19 + p1 * (1 - p1)) / 0.01**2)
    got = stats.required_sample_size_proportions(
        p0, p1, alpha=0.05, power=0.95, two_sided=False, ratio=19
    )
    assert got == expected


def test_lan_demets_obrien_fleming_five_looks() -> None:
    published = [4.877, 3.357, 2.680, 2.290, 2.031]
    got = stats.group_sequential_boundaries(5, alpha=0.05)
    assert got == pytest.approx(published, abs=1e-3)
    # One-sided at 0.025 is the same design to 3 decimals.
    one = stats.group_sequential_boundaries(5, alpha=0.025, two_sided=False)
    assert one == pytest.approx(published, abs=1e-3)


def test_group_sequential_single_look_is_fixed_test() -> None:
    assert stats.group_sequential_boundaries(1, 0.05) == pytest.approx([norm.isf(0.025)], abs=1e-6)
    assert stats.group_sequential_boundaries([1.0], 0.05, two_sided=False) == pytest.approx(
        [norm.isf(0.05)], abs=1e-6
    )


@pytest.mark.parametrize("looks", [[0.3, 0.7, 1.0], [0.5, 1.0], 3])
def test_group_sequential_spends_exactly_alpha(looks: list[float] | int) -> None:
    """Total crossing probability of the boundaries equals alpha (scipy MVN reference)."""
    ts = np.array([(k + 1) / looks for k in range(looks)] if isinstance(looks, int) else looks)
    c = np.array(stats.group_sequential_boundaries(looks, alpha=0.05))
    cov = np.sqrt(np.minimum.outer(ts, ts) / np.maximum.outer(ts, ts))
    stay = multivariate_normal(mean=np.zeros(len(ts)), cov=cov)
    # P(|Z_k| < c_k for all k) by inclusion-exclusion over the 2^K sign corners.
    total = 0.0
    for corner in range(2 ** len(ts)):
        signs = np.array([1 if corner >> i & 1 else -1 for i in range(len(ts))])
        total += np.prod(signs) * stay.cdf(signs * c)
    assert 1.0 - total == pytest.approx(0.05, abs=3e-4)


def test_obrien_fleming_spending() -> None:
    assert stats.obrien_fleming_spending(1.0, 0.05) == pytest.approx(0.05)
    values = [stats.obrien_fleming_spending(t, 0.05) for t in (0.1, 0.3, 0.6, 1.0)]
    assert values == sorted(values)
    assert stats.obrien_fleming_spending(0.2, 0.05) == pytest.approx(
        2 * norm.sf(norm.isf(0.025) / math.sqrt(0.2))
    )


# --------------------------------------------------------------------------- z-tests


def test_z_test_means_summary_matches_scipy() -> None:
    r = stats.z_test_means_summary(10.0, 2.0, 50, 11.0, 3.0, 40, alpha=0.05)
    z = (10.0 - 11.0) / math.sqrt(4 / 50 + 9 / 40)
    assert r.z == pytest.approx(z)
    assert r.p_value == pytest.approx(2 * norm.sf(abs(z)))
    assert r.effect == pytest.approx(1.0)
    assert (r.n_a, r.n_b, r.mean_a, r.mean_b) == (50, 40, 10.0, 11.0)
    assert r.significant == (r.p_value < 0.05)
    assert r.winner == ("B" if r.significant else "no_difference")


def test_z_test_means_raw_samples() -> None:
    rng = np.random.default_rng(1)
    a, b = rng.normal(0, 1, 200), rng.normal(0.5, 1, 300)
    r = stats.z_test_means(list(a), list(b))
    z = (a.mean() - b.mean()) / math.sqrt(a.var(ddof=1) / 200 + b.var(ddof=1) / 300)
    assert r.z == pytest.approx(z)
    assert r.winner == "B"
    assert stats.z_test_means(list(a), list(b), higher_is_better=False).winner == "A"


def test_z_test_proportions_pooled() -> None:
    r = stats.z_test_proportions(57, 11843, 9, 612)
    p = (57 + 9) / (11843 + 612)
    z = (57 / 11843 - 9 / 612) / math.sqrt(p * (1 - p) * (1 / 11843 + 1 / 612))
    assert r.z == pytest.approx(z)
    assert r.p_value == pytest.approx(2 * norm.sf(abs(z)))
    assert r.effect == pytest.approx(9 / 612 - 57 / 11843)
    # More errors in B is worse when higher is worse.
    assert stats.z_test_proportions(57, 11843, 9, 612, higher_is_better=False).winner == "A"


def test_z_test_no_difference() -> None:
    r = stats.z_test_means_summary(1.0, 1.0, 10, 1.0, 1.0, 10)
    assert (r.z, r.p_value, r.winner) == (0.0, 1.0, "no_difference")


means = st.floats(-1e3, 1e3, allow_nan=False)
stds = st.floats(0.01, 100.0)
sizes = st.integers(1, 10_000)


@settings(max_examples=60, deadline=None)
@given(means, stds, sizes, means, stds, sizes)
def test_z_test_p_in_unit_interval_and_swap_flips_sign(
    ma: float, sa: float, na: int, mb: float, sb: float, nb: int
) -> None:
    r = stats.z_test_means_summary(ma, sa, na, mb, sb, nb)
    s = stats.z_test_means_summary(mb, sb, nb, ma, sa, na)
    assert 0.0 <= r.p_value <= 1.0
    assert s.z == pytest.approx(-r.z)
    assert s.effect == pytest.approx(-r.effect)
    assert s.p_value == pytest.approx(r.p_value)
    assert {r.winner, s.winner} in ({"no_difference"}, {"A", "B"})


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 5000), st.integers(1, 5000), st.data())
def test_z_test_proportions_swap(na: int, nb: int, data: st.DataObject) -> None:
    xa = data.draw(st.integers(0, na))
    xb = data.draw(st.integers(0, nb))
    if xa + xb in (0, na + nb):
        with pytest.raises(ValueError, match="x_a, x_b"):
            stats.z_test_proportions(xa, na, xb, nb)
        return
    r = stats.z_test_proportions(xa, na, xb, nb)
    s = stats.z_test_proportions(xb, nb, xa, na)
    assert 0.0 <= r.p_value <= 1.0
    assert s.z == pytest.approx(-r.z)


# --------------------------------------------------------------------------- always valid


@pytest.mark.parametrize("x", [-0.5, 0.0, 0.3, 1.2])
@pytest.mark.parametrize("one_sided", [True, False])
def test_msprt_matches_numerical_mixture(x: float, one_sided: bool) -> None:
    v, tau = 0.04, 0.3

    def integrand(theta: float) -> float:
        prior = 2 * norm.pdf(theta, 0, tau) if one_sided else norm.pdf(theta, 0, tau)
        return prior * math.exp((theta * x - theta**2 / 2) / v)

    lo = 0.0 if one_sided else -np.inf
    expected = integrate.quad(integrand, lo, np.inf)[0]
    got = stats.msprt_likelihood_ratio(x, v, tau, one_sided=one_sided)
    assert got == pytest.approx(expected, rel=1e-6)
    assert stats.msprt_p_value(x, v, tau, one_sided) == pytest.approx(min(1.0, 1.0 / expected))


def test_confidence_sequence_boundary() -> None:
    v, tau, alpha = 0.01, 0.2, 0.05
    lo, hi = stats.confidence_sequence(0.0, v, tau, alpha)
    assert lo == pytest.approx(-hi)
    assert stats.msprt_likelihood_ratio(hi, v, tau, one_sided=False) == pytest.approx(1 / alpha)


def test_msprt_is_always_valid_by_simulation() -> None:
    """Ville: sup over 200 looks of the one-sided mixture crosses 1/alpha at most alpha."""
    rng = np.random.default_rng(7)
    runs, looks, alpha, tau = 2000, 200, 0.05, 0.5
    n = np.arange(1, looks + 1)
    x = rng.standard_normal((runs, looks)).cumsum(axis=1) / n  # mean of n N(0,1)
    crossed = np.zeros(runs, dtype=bool)
    for j in range(0, looks, 10):
        lr = np.array([stats.msprt_likelihood_ratio(xi, 1 / n[j], tau) for xi in x[:, j]])
        crossed |= lr >= 1 / alpha
    assert crossed.mean() <= alpha


def test_log_mixture_lr_normal_reference() -> None:
    th, w = np.array([0.5, 1.0, 2.0]), np.array([1.0, 2.0, 1.0])
    expected = np.log(np.sum(w / w.sum() * np.exp((th * 0.7 - th**2 / 2) / 0.3)))
    assert stats.log_mixture_lr_normal(0.7, 0.3, th, w) == pytest.approx(expected)
    # E[L] = 1 under H0: x ~ N(0, V).
    mean = integrate.quad(
        lambda x: math.exp(
            norm.logpdf(x, 0, math.sqrt(0.3)) + stats.log_mixture_lr_normal(x, 0.3, th, w)
        ),
        -np.inf,
        np.inf,
    )[0]
    assert mean == pytest.approx(1.0, rel=1e-6)


def test_log_mixture_lr_event_split_reference_and_martingale() -> None:
    ratios, w = [1.5, 2.0, 3.0], [1.0, 1.0, 2.0]
    pi, t = 0.05, 40
    q = np.array([pi * r / (pi * r + 1 - pi) for r in ratios])
    ww = np.array(w) / sum(w)
    expected = np.log(np.sum(ww * (q / pi) ** 7 * ((1 - q) / (1 - pi)) ** (t - 7)))
    assert stats.log_mixture_lr_event_split(7, t, pi, ratios, w) == pytest.approx(expected)
    # Exact mean 1 under H0 (canary share of events = pi), smaller when the canary is better.
    xs = np.arange(t + 1)
    lr = np.exp([stats.log_mixture_lr_event_split(int(x), t, pi, ratios, w) for x in xs])
    assert np.sum(binom.pmf(xs, t, pi) * lr) == pytest.approx(1.0, rel=1e-9)
    assert np.sum(binom.pmf(xs, t, pi * 0.8) * lr) < 1.0


def test_unchecked_split_kernel_matches_public() -> None:
    ratios, w = [1.2, 2.5, 9.0], [0.2, 0.5, 0.3]
    pi = 0.07
    lw = [math.log(x) for x in w]
    got = stats.split_log_lr(5, 33, math.log(pi / (1 - pi)), [math.log(r) for r in ratios], lw)
    assert got == pytest.approx(stats.log_mixture_lr_event_split(5, 33, pi, ratios, w))


@pytest.mark.parametrize("x", [-0.4, 0.0, 0.7, 3.0])
def test_unchecked_normal_kernels_match_public_and_differentiate(x: float) -> None:
    th, w, v = [0.5, 1.0, 2.0], [1.0, 2.0, 1.0], 0.3
    lw = [math.log(wj / sum(w)) for wj in w]
    expected = stats.log_mixture_lr_normal(x, v, th, w)
    assert stats.normal_log_lr(x, v, th, lw) == pytest.approx(expected)
    value, slope = stats.normal_log_lr_grad(x, v, th, lw)
    assert value == pytest.approx(expected)
    up, down = (stats.normal_log_lr(x + h, v, th, lw) for h in (1e-6, -1e-6))
    numeric = (up - down) / 2e-6
    assert slope == pytest.approx(numeric, rel=1e-6)


def test_log_mixture_lr_bernoulli_martingale() -> None:
    alts, w = [0.02, 0.05, 0.2], [1, 1, 1]
    xs = np.arange(31)
    lr = np.exp([stats.log_mixture_lr_bernoulli(int(x), 30, 0.01, alts, w) for x in xs])
    assert np.sum(binom.pmf(xs, 30, 0.01) * lr) == pytest.approx(1.0, rel=1e-9)
    assert np.sum(binom.pmf(xs, 30, 0.005) * lr) < 1.0


def test_logsumexp() -> None:
    assert stats.logsumexp([1000.0, 1000.0]) == pytest.approx(1000 + math.log(2))
    assert stats.logsumexp([-math.inf, -math.inf]) == -math.inf


# --------------------------------------------------------------------------- bad input

NAN, INF = float("nan"), float("inf")


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda: stats.z_test_means_summary(1, 0, 10, 2, 0, 10), "zero variance"),
        (lambda: stats.z_test_means_summary(1, 1, 0, 2, 1, 10), "n_a"),
        (lambda: stats.z_test_means_summary(1, 1, 10, 2, 1, -3), "n_b"),
        (lambda: stats.z_test_means_summary(NAN, 1, 10, 2, 1, 10), "mean_a"),
        (lambda: stats.z_test_means_summary(1, INF, 10, 2, 1, 10), "std_a"),
        (lambda: stats.z_test_means_summary(1, -1, 10, 2, 1, 10), "std_a"),
        (lambda: stats.z_test_means_summary(1, 1, 10, 2, 1, 10, alpha=0), "alpha"),
        (lambda: stats.z_test_means_summary(1, 1, 10.5, 2, 1, 10), "n_a"),
        (lambda: stats.z_test_means([], [1.0, 2.0]), "a"),
        (lambda: stats.z_test_means([1.0, 2.0], [3.0]), "b"),
        (lambda: stats.z_test_means([1.0, NAN], [1.0, 2.0]), r"a\[1\]"),
        (lambda: stats.z_test_means([1.0, 1.0], [2.0, 2.0]), "zero variance"),
        (lambda: stats.z_test_proportions(-1, 10, 1, 10), "x_a"),
        (lambda: stats.z_test_proportions(11, 10, 1, 10), "x_a"),
        (lambda: stats.z_test_proportions(1, 10, 12, 10), "x_b"),
        (lambda: stats.z_test_proportions(1, 0, 1, 10), "n_a"),
        (lambda: stats.z_test_proportions(0, 10, 0, 10), "zero variance"),
        (lambda: stats.z_test_proportions(True, 10, 1, 10), "x_a"),
        (lambda: stats.required_sample_size(0.0, 1.0), "delta"),
        (lambda: stats.required_sample_size(NAN, 1.0), "delta"),
        (lambda: stats.required_sample_size(0.1, 0.0, 0.0), "zero variance"),
        (lambda: stats.required_sample_size(0.1, -1.0), "sigma_a"),
        (lambda: stats.required_sample_size(0.1, 1.0, power=1.0), "power"),
        (lambda: stats.required_sample_size(0.1, 1.0, alpha=1.5), "alpha"),
        (lambda: stats.required_sample_size(0.1, 1.0, ratio=0), "ratio"),
        (lambda: stats.required_sample_size_proportions(0.1, 0.1), "p_b"),
        (lambda: stats.required_sample_size_proportions(0.0, 0.1), "p_a"),
        (lambda: stats.group_sequential_boundaries(0), "looks"),
        (lambda: stats.group_sequential_boundaries([]), "looks"),
        (lambda: stats.group_sequential_boundaries([0.5, 0.4]), r"looks\[1\]"),
        (lambda: stats.group_sequential_boundaries([0.5, 1.2]), r"looks\[1\]"),
        (lambda: stats.group_sequential_boundaries(5, alpha=NAN), "alpha"),
        (lambda: stats.obrien_fleming_spending(0.0, 0.05), "t"),
        (lambda: stats.msprt_likelihood_ratio(1.0, 0.0, 1.0), "variance"),
        (lambda: stats.msprt_likelihood_ratio(NAN, 1.0, 1.0), "estimate"),
        (lambda: stats.msprt_likelihood_ratio(1.0, 1.0, 0.0), "tau"),
        (lambda: stats.confidence_sequence(1.0, 1.0, 1.0, alpha=0.0), "alpha"),
        (lambda: stats.log_mixture_lr_normal(0.1, 1.0, [], []), "alternatives"),
        (lambda: stats.log_mixture_lr_normal(0.1, 1.0, [1.0], [1.0, 2.0]), "weights"),
        (lambda: stats.log_mixture_lr_normal(0.1, 1.0, [1.0], [-1.0]), "weights"),
        (lambda: stats.log_mixture_lr_event_split(5, 4, 0.1, [2.0], [1.0]), "events_canary"),
        (lambda: stats.log_mixture_lr_event_split(1, 4, 1.0, [2.0], [1.0]), "share"),
        (lambda: stats.log_mixture_lr_event_split(1, 4, 0.1, [0.0], [1.0]), "rate_ratios"),
        (lambda: stats.log_mixture_lr_bernoulli(3, 2, 0.1, [0.2], [1.0]), "events"),
        (lambda: stats.log_mixture_lr_bernoulli(1, 2, 0.1, [1.0], [1.0]), "alternatives"),
        (lambda: stats.logsumexp([]), "values"),
    ],
)
def test_bad_input_raises_value_error_naming_the_field(call, field: str) -> None:  # noqa: ANN001
    with pytest.raises(ValueError, match=field):
        call()
