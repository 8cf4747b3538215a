"""Monte Carlo of the sequential judge at a given traffic: decisions and time to decision.

Every run feeds `guardrails.judge.evaluate` cumulative data once per judge interval, as the
rollout does, until a decision or the bake-time limit. Error rates run through the judge's own
`simulate_sequential`; means are drawn as exact normal sufficient statistics per look.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

from guardrails.judge import evaluate
from guardrails.judge.simulation import simulate_sequential

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
    for index in range(runs):
        run_seed = seed * 1_000_003 + index
        if scenario.kind == "proportion":
            yield _proportion_run(scenario, true_delta, run_seed)
        else:
            yield _mean_run(scenario, true_delta, random.Random(run_seed))


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


def _proportion_run(s: Scenario, true_delta: float, seed: int) -> Outcome:
    result = simulate_sequential(
        s.baseline,
        s.margin,
        true_delta,
        canary_share=s.canary_share,
        look_every=s.canary_per_look,
        max_canary=s.canary_per_look * s.max_looks,
        runs=1,
        seed=seed,
        alpha=s.alpha,
        min_samples=s.min_samples,
    )
    if result["rollback_rate"] == 1.0:
        decision = "rollback"
    elif result["promote_rate"] == 1.0:
        decision = "promote"
    else:
        decision = "continue"
    return Outcome(decision, math.ceil(result["mean_canary_samples"] / s.canary_per_look))


def _mean_run(s: Scenario, true_delta: float, rng: random.Random) -> Outcome:
    baseline = _Arm()
    canary = _Arm()
    for look in range(1, s.max_looks + 1):
        baseline.add(rng, s.baseline_per_look, s.baseline, s.std)
        canary.add(rng, s.canary_per_look, s.baseline + true_delta, s.std)
        decision = evaluate(
            {
                "alpha": s.alpha,
                "min_samples": s.min_samples,
                "metrics": [
                    {
                        "name": "metric",
                        "kind": "mean",
                        "higher_is_worse": True,
                        "margin": s.margin,
                        "baseline": baseline.summary(),
                        "canary": canary.summary(),
                    }
                ],
            }
        )["decision"]
        if decision != "continue":
            return Outcome(decision, look)
    return Outcome("continue", s.max_looks)


class _Arm:
    """Running n, mean and sum of squared deviations of normal draws, added a batch at a time."""

    def __init__(self) -> None:
        self.n = 0
        self.mean = 0.0
        self.m2 = 0.0

    def add(self, rng: random.Random, k: int, mu: float, sigma: float) -> None:
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
        std = math.sqrt(self.m2 / (self.n - 1)) if self.n > 1 else 0.0
        return {"n": self.n, "mean": self.mean, "std": std}
