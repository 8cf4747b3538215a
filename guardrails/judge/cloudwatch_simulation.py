"""Simulated SageMaker traffic as CloudWatch reports it: per-minute, per-fleet aggregates.

Each minute both fleets serve requests; what comes out is what GetMetricData returns for the
rollout's queries (``guardrails.rollout.metrics.metric_queries``), keyed by query id, so the
Lambda's own reader can turn it into the judge's request. Latencies are log-normal per
request; counts, sums, minima, maxima and the p50/p90/p99 extended statistics are computed
from the simulated requests, never from true parameters. Blue/green ("native") publishes the
aggregate of both fleets and the new fleet alone; A/B publishes each fleet alone.

Uses numpy (a development dependency): the benchmarks and tests import it; the Lambda
package and the CLI do not (infra/lambda_code.py leaves it out).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np

__all__ = ["START", "Traffic", "FleetSimulator"]

START = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
_MICROSECONDS_PER_MS = 1000.0
_PERCENTILES = (50.0, 90.0, 99.0)


@dataclass(frozen=True, kw_only=True)
class Traffic:
    """What both fleets see minute by minute, and how the canary differs.

    Minutes count from the canary's first traffic (minute 0). Latency is log-normal with
    log-scale sd ``latency_sigma`` and mean ``latency_mean_ms`` for the baseline.
    """

    requests_per_minute: float = 1000.0  # both fleets, Poisson
    share_steps: tuple[tuple[int, float], ...] = ((0, 0.1),)  # (from minute, canary share)
    error_rate: float = 0.01  # baseline 5xx rate
    client_error_rate: float = 0.0  # 4xx rate of both fleets
    latency_mean_ms: float = 100.0
    latency_sigma: float = 1.0
    trend_per_minute: float = 0.0  # shared: rates and latency x (1 + trend x minute)
    outage_minutes: tuple[int, ...] = ()  # shared: both fleets at outage_error_rate 5xx
    outage_error_rate: float = 0.2
    shock_sigma: float = 0.0  # shared per-minute latency factor, log-normal, log-scale sd
    error_delta: float = 0.0  # canary 5xx rate minus the baseline's (absolute)
    client_error_delta: float = 0.0  # canary 4xx rate minus the baseline's
    latency_delta_ms: float = 0.0  # added to every canary request
    regression_from: int = 0  # the canary's differences apply from this minute on
    cold_start_minutes: float = 0.0  # canary latency x cold_start_factor for this long
    cold_start_factor: float = 3.0
    cold_start_offset: float | None = None  # start of the canary's traffic in minute 0;
    # None: uniform in [0, 1) per rollout, so a cold start straddles minute boundaries

    def share(self, minute: int) -> float:
        """The canary's share of requests in a minute."""
        current = 0.0
        for start, share in self.share_steps:
            if minute >= start:
                current = share
        return current

    def trend(self, minute: int) -> float:
        return max(1.0 + self.trend_per_minute * minute, 0.0)


@dataclass
class _Fleet:
    """One fleet's requests of one minute."""

    count: int
    errors_5xx: int
    errors_4xx: int
    latencies_ms: np.ndarray


@dataclass
class FleetSimulator:
    """One rollout's CloudWatch series, a minute at a time (``advance``), keyed by query id.

    ``plan`` "native" publishes "a_*" for the aggregate of both fleets and "b_*" for the new
    fleet; "ab" publishes "a_*" for the baseline and "b_*" for the canary.
    """

    traffic: Traffic
    seed: int
    plan: str = "native"
    minute: int = 0
    series: dict[str, dict[datetime, float]] = field(default_factory=dict)
    last_canary: _Fleet | None = None  # the canary's requests of the latest minute
    rng: np.random.Generator = field(init=False)
    cold_offset: float = field(init=False)

    def __post_init__(self) -> None:
        if self.plan not in ("native", "ab"):
            raise ValueError(f"plan: must be native or ab, got {self.plan!r}")
        self.rng = np.random.default_rng(self.seed)
        offset = self.traffic.cold_start_offset
        self.cold_offset = float(self.rng.random()) if offset is None else offset

    def advance(self) -> None:
        """Simulate the next minute and publish both fleets' aggregates."""
        t, minute = self.traffic, self.minute
        rng = self.rng
        total = int(rng.poisson(t.requests_per_minute))
        share = t.share(minute)
        if minute == 0:  # the canary starts taking traffic part-way through minute 0
            share *= 1.0 - self.cold_offset
        canary_n = int(rng.binomial(total, share)) if share > 0 else 0
        baseline = self._fleet(total - canary_n, canary=False)
        canary = self._fleet(canary_n, canary=True)
        self.last_canary = canary
        stamp = START + timedelta(minutes=minute)
        if self.plan == "native":
            both = _Fleet(
                baseline.count + canary.count,
                baseline.errors_5xx + canary.errors_5xx,
                baseline.errors_4xx + canary.errors_4xx,
                np.concatenate([baseline.latencies_ms, canary.latencies_ms]),
            )
            self._publish("a", both, stamp)
        else:
            self._publish("a", baseline, stamp)
        self._publish("b", canary, stamp)
        self.minute += 1

    def _fleet(self, count: int, *, canary: bool) -> _Fleet:
        t, minute, rng = self.traffic, self.minute, self.rng
        late = canary and minute >= t.regression_from
        outage = minute in t.outage_minutes
        rate_5xx = t.outage_error_rate if outage else t.error_rate * t.trend(minute)
        rate_5xx += t.error_delta if late else 0.0
        rate_4xx = t.client_error_rate * t.trend(minute) + (t.client_error_delta if late else 0.0)
        mean = t.latency_mean_ms * t.trend(minute)
        if t.shock_sigma > 0:
            # One shock per minute shared by both fleets: drawn from a generator seeded by
            # the rollout and the minute, so both fleets see the same factor.
            shock_rng = np.random.default_rng((self.seed, minute))
            mean *= math.exp(shock_rng.normal(-0.5 * t.shock_sigma**2, t.shock_sigma))
        mu = math.log(mean) - 0.5 * t.latency_sigma**2
        latencies = rng.lognormal(mu, t.latency_sigma, size=count)
        if canary and late:
            latencies += t.latency_delta_ms
        if canary and t.cold_start_minutes > 0 and count:
            # Each request's time since the canary's first traffic: cold ones are slower.
            offset = self.cold_offset
            if minute == 0:
                when = offset + rng.random(count) * (1.0 - offset)
            else:
                when = minute + rng.random(count)
            cold = when - offset < t.cold_start_minutes
            latencies[cold] *= t.cold_start_factor
        return _Fleet(
            count,
            int(rng.binomial(count, min(max(rate_5xx, 0.0), 1.0))),
            int(rng.binomial(count, min(max(rate_4xx, 0.0), 1.0))),
            latencies,
        )

    def _publish(self, prefix: str, fleet: _Fleet, stamp: datetime) -> None:
        # CloudWatch has no data point for a minute without requests.
        if fleet.count == 0:
            return
        micro = fleet.latencies_ms * _MICROSECONDS_PER_MS
        p50, p90, p99 = np.percentile(micro, _PERCENTILES)
        values = {
            "e5": fleet.errors_5xx,
            "n5": fleet.count,
            "e4": fleet.errors_4xx,
            "n4": fleet.count,
            "ls": float(micro.sum()),
            "ln": fleet.count,
            "lmin": float(micro.min()),
            "lmax": float(micro.max()),
            "l50": float(p50),
            "l90": float(p90),
            "l99": float(p99),
        }
        for suffix, value in values.items():
            self.series.setdefault(f"{prefix}_{suffix}", {})[stamp] = float(value)
