"""Monte Carlo of the sequential judge: decisions and time to decision at a given traffic.

Every simulated rollout feeds ``evaluate`` cumulative data once per look, as the rollout does,
until a decision or the last look. Error rates are drawn as exact binomial counts, means as
exact normal sufficient statistics, with ``random`` only. The CLI's ``plan`` and ``simulate``
run on it; the Lambda package leaves this module out (infra/lambda_code.py), so nothing the
handlers import may import it.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

from guardrails.judge.decision import evaluate
from guardrails.judge.request import DEFAULT_ALPHA, DEFAULT_MIN_SAMPLES

__all__ = [
    "Kind",
    "NormalSummary",
    "Outcome",
    "Scenario",
    "Summary",
    "binomial",
    "outcomes",
    "simulate",
    "simulate_sequential",
    "summarize",
]

Kind = Literal["proportion", "mean"]


@dataclass(frozen=True, kw_only=True)
class Scenario:
    """One metric judged at a fixed cadence: what the judge sees at every look."""

    kind: Kind
    baseline: float  # error rate (proportion) or mean (mean)
    std: float = 0.0  # per-request standard deviation, means only
    margin: float  # largest accepted degradation, metric unit
    alpha: float
    min_samples: int
    canary_per_look: int  # canary requests between two looks
    baseline_per_look: int  # baseline requests between two looks
    max_looks: int  # undecided after this many looks: the rollout times out
    interval_seconds: int  # time between looks

    @property
    def canary_share(self) -> float:
        return self.canary_per_look / (self.canary_per_look + self.baseline_per_look)


@dataclass(frozen=True)
class Outcome:
    """How one simulated rollout ended."""

    decision: str  # rollback, promote, or continue when undecided at max_looks
    looks: int
    canary_n: int  # canary requests the last look saw


@dataclass(frozen=True, kw_only=True)
class Summary:
    """Decision rates and time to decision over many runs at one true regression."""

    true_delta: float
    runs: int
    rollback_rate: float
    promote_rate: float
    undecided_rate: float
    mean_seconds: float  # undecided runs count at the time limit
    p95_seconds: float
    mean_canary_n: float
    p95_canary_n: int


def outcomes(scenario: Scenario, true_delta: float, runs: int, seed: int) -> Iterator[Outcome]:
    """`runs` independent rollouts with the canary worse by `true_delta`, one at a time."""
    _check(scenario, true_delta)
    max_canary = scenario.canary_per_look * scenario.max_looks
    for index in range(runs):
        rng = random.Random(seed * 1_000_003 + index)
        yield _rollout(scenario, true_delta, rng, max_canary)


def summarize(scenario: Scenario, true_delta: float, results: list[Outcome]) -> Summary:
    """Rates and the mean and 95th percentile of time to decision."""
    if not results:
        raise ValueError("runs: must be at least 1")
    looks = sorted(r.looks for r in results)
    p95_looks = looks[min(len(looks) - 1, math.ceil(0.95 * len(looks)) - 1)]
    count = len(results)

    def rate(decision: str) -> float:
        return sum(r.decision == decision for r in results) / count

    mean_looks = sum(looks) / count
    return Summary(
        true_delta=true_delta,
        runs=count,
        rollback_rate=rate("rollback"),
        promote_rate=rate("promote"),
        undecided_rate=rate("continue"),
        mean_seconds=mean_looks * scenario.interval_seconds,
        p95_seconds=float(p95_looks * scenario.interval_seconds),
        mean_canary_n=mean_looks * scenario.canary_per_look,
        p95_canary_n=p95_looks * scenario.canary_per_look,
    )


def simulate(scenario: Scenario, true_delta: float, runs: int, seed: int) -> Summary:
    """`summarize` over `outcomes`, for callers that need no progress report."""
    return summarize(scenario, true_delta, list(outcomes(scenario, true_delta, runs, seed)))


def simulate_sequential(
    p0: float,
    margin: float,
    true_delta: float,
    canary_share: float = 0.05,
    look_every: int = 100,
    max_canary: int = 20000,
    runs: int = 200,
    seed: int = 0,
    alpha: float = DEFAULT_ALPHA,
    min_samples: int = DEFAULT_MIN_SAMPLES,
) -> dict[str, Any]:
    """Monte Carlo of ``evaluate`` on one error-rate metric, counted in canary requests.

    Baseline rate p0, canary rate p0 + true_delta; a look every ``look_every`` canary requests
    (baseline gets look_every (1 - share)/share per look) until a decision or ``max_canary``.
    Returns decision rates and mean / p95 canary samples at the decision (max_canary if none).
    """
    for name, val, lo, hi in (
        ("p0", p0, 0.0, 1.0),
        ("canary_share", canary_share, 0.0, 1.0),
    ):
        if isinstance(val, bool) or not isinstance(val, (int, float)) or not lo < val < hi:
            raise ValueError(f"{name}: must be in ({lo:g}, {hi:g}), got {val!r}")
    if isinstance(margin, bool) or not isinstance(margin, (int, float)) or not 0 < margin < 0.5:
        raise ValueError(f"margin: must be in (0, 0.5), got {margin!r}")
    if isinstance(true_delta, bool) or not isinstance(true_delta, (int, float)):
        raise ValueError(f"true_delta: must be a number, got {true_delta!r}")
    p1 = p0 + true_delta
    if not 0.0 <= p1 <= 1.0:
        raise ValueError(f"true_delta: p0 + true_delta must be in [0, 1], got {p1!r}")
    for name, ival in (("look_every", look_every), ("max_canary", max_canary), ("runs", runs)):
        _check_count(name, ival)
    base_every = max(1, round(look_every * (1.0 - canary_share) / canary_share))
    scenario = Scenario(
        kind="proportion",
        baseline=p0,
        margin=margin,
        alpha=alpha,
        min_samples=min_samples,
        canary_per_look=look_every,
        baseline_per_look=base_every,
        max_looks=math.ceil(max_canary / look_every),
        interval_seconds=1,  # not reported: this summary counts canary requests
    )
    rng = random.Random(seed)  # one stream for all runs
    results = [_rollout(scenario, true_delta, rng, max_canary) for _ in range(runs)]
    used = sorted(r.canary_n for r in results)
    by_decision = {
        decision: [r.canary_n for r in results if r.decision == decision]
        for decision in ("rollback", "promote", "continue")
    }
    rollback, promote = by_decision["rollback"], by_decision["promote"]
    return {
        "runs": runs,
        "rollback_rate": len(rollback) / runs,
        "promote_rate": len(promote) / runs,
        "continue_rate": len(by_decision["continue"]) / runs,
        "mean_canary_samples": sum(used) / runs,
        "p95_canary_samples": used[min(len(used) - 1, math.ceil(0.95 * len(used)) - 1)],
        "mean_canary_samples_rollback": sum(rollback) / len(rollback) if rollback else None,
        "mean_canary_samples_promote": sum(promote) / len(promote) if promote else None,
        "baseline_per_look": base_every,
    }


def binomial(rng: random.Random, n: int, p: float) -> int:
    """An exact Binomial(n, p) draw by geometric skipping: O(n min(p, 1-p) + 1) uniform draws."""
    if n <= 0 or p <= 0.0:
        return 0
    if p >= 1.0:
        return n
    if p > 0.5:
        return n - binomial(rng, n, 1.0 - p)
    log_q = math.log1p(-p)
    x, i = 0, 0
    while True:
        i += int(math.log(1.0 - rng.random()) / log_q) + 1
        if i > n:
            return x
        x += 1


class NormalSummary:
    """Running n, mean and sum of squared deviations of normal draws, added a batch at a time."""

    def __init__(self) -> None:
        self.n = 0
        self.mean = 0.0
        self.m2 = 0.0

    def add(self, rng: random.Random, k: int, mu: float, sigma: float) -> None:
        """Add k draws of N(mu, sigma^2)."""
        # A batch of k normal draws has mean ~ N(mu, sigma^2/k) and, independently, sum of
        # squared deviations ~ sigma^2 chi2(k-1): drawing those two is exact and O(1).
        batch_mean = rng.gauss(mu, sigma / math.sqrt(k))
        batch_m2 = sigma * sigma * rng.gammavariate((k - 1) / 2, 2.0) if k > 1 else 0.0
        total = self.n + k
        shift = batch_mean - self.mean
        self.m2 += batch_m2 + shift * shift * self.n * k / total
        self.mean += shift * k / total
        self.n = total

    def summary(self) -> dict[str, float]:
        """The arm as the judge's request gives it: n, mean and sample std."""
        std = math.sqrt(self.m2 / (self.n - 1)) if self.n > 1 else 0.0
        return {"n": self.n, "mean": self.mean, "std": std}


class _Counts:
    """Events and trials of both arms of an error-rate metric."""

    def __init__(self, baseline_rate: float, canary_rate: float) -> None:
        self.rates = (baseline_rate, canary_rate)
        self.baseline: dict[str, float] = {"events": 0, "trials": 0}
        self.canary: dict[str, float] = {"events": 0, "trials": 0}

    def add(self, rng: random.Random, baseline_k: int, canary_k: int) -> None:
        # The canary is drawn first: the order of draws is part of what a seed reproduces.
        baseline_rate, canary_rate = self.rates
        for arm, k, rate in (
            (self.canary, canary_k, canary_rate),
            (self.baseline, baseline_k, baseline_rate),
        ):
            arm["trials"] += k
            arm["events"] += binomial(rng, k, rate)

    def arms(self) -> tuple[dict[str, float], dict[str, float]]:
        return dict(self.baseline), dict(self.canary)


class _Means:
    """Normal sufficient statistics of both arms of a mean metric, one std for both."""

    def __init__(self, baseline_mean: float, canary_mean: float, std: float) -> None:
        self.means = (baseline_mean, canary_mean)
        self.std = std
        self.summaries = (NormalSummary(), NormalSummary())

    def add(self, rng: random.Random, baseline_k: int, canary_k: int) -> None:
        # The baseline is drawn first here, the canary first for counts (see _Counts.add).
        for arm, k in ((0, baseline_k), (1, canary_k)):
            self.summaries[arm].add(rng, k, self.means[arm], self.std)

    def arms(self) -> tuple[dict[str, float], dict[str, float]]:
        return self.summaries[0].summary(), self.summaries[1].summary()


def _rollout(s: Scenario, true_delta: float, rng: random.Random, max_canary: int) -> Outcome:
    """One rollout: a look every canary_per_look canary requests until a decision or max_canary.

    A last look short of canary_per_look gets a baseline batch of the same proportion.
    """
    data = (
        _Counts(s.baseline, s.baseline + true_delta)
        if s.kind == "proportion"
        else _Means(s.baseline, s.baseline + true_delta, s.std)
    )
    canary_n = looks = 0
    while canary_n < max_canary:
        step = min(s.canary_per_look, max_canary - canary_n)
        canary_n += step
        looks += 1
        data.add(rng, max(1, round(step * s.baseline_per_look / s.canary_per_look)), step)
        baseline, canary = data.arms()
        metric = {"name": "metric", "kind": s.kind, "higher_is_worse": True, "margin": s.margin}
        request = {
            "alpha": s.alpha,
            "min_samples": s.min_samples,
            "metrics": [{**metric, "baseline": baseline, "canary": canary}],
        }
        decision = evaluate(request)["decision"]
        if decision != "continue":
            return Outcome(decision, looks, canary_n)
    return Outcome("continue", looks, canary_n)


def _check(s: Scenario, true_delta: float) -> None:
    for name, count in (
        ("canary_per_look", s.canary_per_look),
        ("baseline_per_look", s.baseline_per_look),
        ("max_looks", s.max_looks),
    ):
        _check_count(name, count)
    if s.kind == "proportion" and not 0.0 <= s.baseline + true_delta <= 1.0:
        raise ValueError(
            f"true_delta: baseline + true_delta must be in [0, 1], got {s.baseline + true_delta!r}"
        )


def _check_count(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name}: must be an integer >= 1, got {value!r}")
