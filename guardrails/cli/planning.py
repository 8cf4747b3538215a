"""Pure arithmetic behind `guardrails plan` and `guardrails simulate`: traffic, sample sizes, time.

The fixed-horizon numbers are the seed's formula (`guardrails.stats.required_sample_size`,
two-sided); the sequential ones come from simulating the real judge (`guardrails.judge.simulation`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from guardrails import stats
from guardrails.cli import render
from guardrails.config import DeploymentSettings, EnvironmentConfig, JudgeSettings
from guardrails.judge.simulation import Kind, Scenario, Summary
from guardrails.rollout.timing import baking_percent


class PlanError(ValueError):
    """An input to the plan is out of range; the message starts with the option it concerns."""


@dataclass(frozen=True, kw_only=True)
class Traffic:
    """Requests per second reaching each arm while the canary bakes."""

    canary_rps: float
    baseline_rps: float
    description: str  # how the split was chosen, for the report
    replayed_rps: float = 0.0  # of the total, what the rollout replays from the test data

    @property
    def canary_share(self) -> float:
        return self.canary_rps / (self.canary_rps + self.baseline_rps)

    @property
    def ratio(self) -> float:
        """Baseline requests per canary request."""
        return self.baseline_rps / self.canary_rps


@dataclass(frozen=True, kw_only=True)
class MetricSpec:
    """The metric and the regression to catch: an error rate, or a mean with its std."""

    kind: Kind
    baseline: float
    std: float  # per-request; sqrt(p (1 - p)) for a rate
    margin: float

    @property
    def label(self) -> str:
        if self.kind == "proportion":
            return f"error rate {self.baseline:g} -> {self.baseline + self.margin:g}"
        return f"mean {self.baseline:g} (std {self.std:g}) -> {self.baseline + self.margin:g}"


@dataclass(frozen=True, kw_only=True)
class FixedHorizon:
    """What a one-shot two-sample z-test needs to detect a regression of `margin`."""

    per_arm_equal: int  # per arm with a 1:1 split: the seed's formula
    seconds_equal: float  # at the same total traffic split 1:1
    canary_n: int  # canary arm at the actual split
    baseline_n: int  # baseline arm at the actual split
    seconds: float  # at the actual split


def rate_metric(baseline_rate: float, margin: float) -> MetricSpec:
    """An error rate that must not rise by `margin` (absolute)."""
    if not 0 < baseline_rate < 1:
        raise PlanError(f"--baseline-rate: must be between 0 and 1 (got {baseline_rate:g})")
    if not 0 < margin < 1 - baseline_rate:
        raise PlanError(
            f"--margin: must be above 0 and keep baseline rate + margin below 1 (got {margin:g})"
        )
    if margin >= 0.5:
        raise PlanError(f"--margin: the judge takes error-rate margins below 0.5 (got {margin:g})")
    std = math.sqrt(baseline_rate * (1 - baseline_rate))
    return MetricSpec(kind="proportion", baseline=baseline_rate, std=std, margin=margin)


def mean_metric(baseline_mean: float, baseline_std: float, margin: float) -> MetricSpec:
    """A mean (e.g. latency) that must not rise by `margin`, with per-request std."""
    if not math.isfinite(baseline_mean):
        raise PlanError(f"--baseline-mean: must be a finite number (got {baseline_mean!r})")
    if not (math.isfinite(baseline_std) and baseline_std > 0):
        raise PlanError(f"--baseline-std: must be above 0 (got {baseline_std:g})")
    if not (math.isfinite(margin) and margin > 0):
        raise PlanError(f"--margin: must be above 0 (got {margin:g})")
    return MetricSpec(kind="mean", baseline=baseline_mean, std=baseline_std, margin=margin)


def split_traffic(rps: float, canary_percent: float, *, mirrored: bool = False) -> Traffic:
    """`rps` split between canary and baseline; a mirrored (shadow) canary sees every request."""
    if not (math.isfinite(rps) and rps > 0):
        raise PlanError(f"--rps: must be above 0 (got {rps:g})")
    if mirrored:
        return Traffic(
            canary_rps=rps, baseline_rps=rps, description="shadow: a copy of every request"
        )
    if not 1 <= canary_percent < 100:
        raise PlanError(
            f"--canary-share: a percent from 1 to 99, e.g. 10 for 10% (got {canary_percent:g})"
        )
    canary = rps * canary_percent / 100
    return Traffic(
        canary_rps=canary, baseline_rps=rps - canary, description=f"canary {canary_percent:g}%"
    )


def strategy_traffic(env: EnvironmentConfig, rps: float) -> Traffic:
    """The split an environment's strategy bakes on: its smallest step, where data is scarcest."""
    deployment: DeploymentSettings = env.deployment
    strategy = deployment.strategy
    percent = baking_percent(deployment)
    if strategy == "shadow":
        return split_traffic(rps, 50, mirrored=True)
    if percent is None:
        raise PlanError(
            f"--canary-share: environments.{env.name}.deployment.strategy is {strategy}, which "
            "sends all traffic to the new model at once; give the share to plan for"
        )
    traffic = split_traffic(rps, percent)
    return Traffic(
        canary_rps=traffic.canary_rps,
        baseline_rps=traffic.baseline_rps,
        description=f"{strategy} at {percent}%",
    )


def design_rps(env: EnvironmentConfig) -> float:
    """Traffic at the autoscaling set point: instances x target invocations per minute / 60."""
    return env.endpoint.instance_count * env.endpoint.target_invocations_per_instance / 60


def planned_rps(env: EnvironmentConfig) -> tuple[float, float]:
    """(total, replayed) requests per second while a rollout bakes, as the timing check counts.

    Real traffic is `traffic.expected_requests_per_minute`, else the autoscaling set point;
    the replay (`traffic.replay_requests_per_minute`) comes on top.
    """
    real = env.traffic.expected_requests_per_minute
    real_rps = design_rps(env) if real is None else real / 60
    replayed = env.traffic.replay_requests_per_minute / 60
    if real_rps + replayed <= 0:
        raise PlanError(
            f"--rps: environments.{env.name} plans for no real traffic and replays nothing "
            "(traffic.expected_requests_per_minute 0, traffic.replay_requests_per_minute 0); "
            "give the requests per second to plan for"
        )
    return real_rps + replayed, replayed


def planned_traffic(
    env: EnvironmentConfig | None, rps: float | None, share: float | None
) -> Traffic:
    """The split plan and simulate judge at: `rps` (else what `env` plans for, replay
    included), at `share` percent (else the strategy's, else the default canary's)."""
    replayed = 0.0
    if rps is None:
        if env is None:
            raise PlanError("--rps: required (requests per second), or give --env")
        rps, replayed = planned_rps(env)
    if share is not None:
        traffic = split_traffic(rps, share)
    elif env is not None:
        traffic = strategy_traffic(env, rps)
    else:
        traffic = split_traffic(rps, DeploymentSettings().canary_percent)
    if not replayed:
        return traffic
    return replace(
        traffic,
        replayed_rps=replayed,
        description=f"{traffic.description}; {render.number(replayed)} req/s of it replayed "
        "test data",
    )


def fixed_horizon(
    metric: MetricSpec, traffic: Traffic, *, alpha: float, power: float
) -> FixedHorizon:
    """The seed's sample size at a 1:1 split and at the actual split, and the time each takes."""
    if not 0 < alpha < 1:
        raise PlanError(f"--alpha: must be between 0 and 1 (got {alpha:g})")
    if not 0 < power < 1:
        raise PlanError(f"--power: must be between 0 and 1 (got {power:g})")

    def canary_arm(ratio: float) -> int:
        if metric.kind == "proportion":
            return stats.required_sample_size_proportions(
                metric.baseline, metric.baseline + metric.margin, alpha, power, ratio=ratio
            )
        return stats.required_sample_size(
            metric.margin, metric.std, metric.std, alpha, power, ratio=ratio
        )

    per_arm = canary_arm(1.0)
    canary_n = canary_arm(traffic.ratio)
    baseline_n = math.ceil(traffic.ratio * canary_n - 1e-9)
    total_rps = traffic.canary_rps + traffic.baseline_rps
    return FixedHorizon(
        per_arm_equal=per_arm,
        seconds_equal=per_arm / (total_rps / 2),
        canary_n=canary_n,
        baseline_n=baseline_n,
        seconds=max(canary_n / traffic.canary_rps, baseline_n / traffic.baseline_rps),
    )


def judge_scenario(metric: MetricSpec, traffic: Traffic, judge: JudgeSettings) -> Scenario:
    """The judge as the rollout runs it: a look every interval, undecided at max bake time."""
    interval = judge.interval_seconds
    return Scenario(
        kind=metric.kind,
        baseline=metric.baseline,
        std=metric.std,
        margin=metric.margin,
        alpha=judge.alpha,
        min_samples=judge.min_samples,
        canary_per_look=max(1, round(traffic.canary_rps * interval)),
        baseline_per_look=max(1, round(traffic.baseline_rps * interval)),
        max_looks=max(1, judge.max_bake_time_seconds // interval),
        interval_seconds=interval,
    )


def bake_warnings(
    env: EnvironmentConfig,
    fixed: FixedHorizon,
    catch: Summary | None,
    promote: Summary | None,
) -> list[str]:
    """Where the environment's bake times are too short for the plan's numbers."""
    judge = env.judge
    bake = judge.bake_time_seconds
    field = f"environments.{env.name}.judge"
    warnings = []
    if bake < fixed.seconds:
        warnings.append(
            f"{field}.bake_time_seconds: {_minutes(bake)} is shorter than the "
            f"{_minutes(fixed.seconds)} a fixed-horizon test needs to detect the margin"
        )
    if catch is not None and bake < catch.p95_seconds:
        warnings.append(
            f"{field}.bake_time_seconds: {_minutes(bake)} is shorter than the "
            f"{_minutes(catch.p95_seconds)} the judge needs at worst (p95) to catch a "
            "regression of the margin"
        )
    step = env.deployment.wait_interval_seconds
    if (
        catch is not None
        and env.deployment.strategy in ("canary", "linear")
        and step < catch.p95_seconds
    ):
        warnings.append(
            f"environments.{env.name}.deployment.wait_interval_seconds: SageMaker shifts more "
            f"traffic after {_minutes(step)}, before the {_minutes(catch.p95_seconds)} the judge "
            "needs at worst (p95) to catch a regression of the margin"
        )
    if promote is not None and promote.promote_rate < 0.95:
        warnings.append(
            f"{field}.max_bake_time_seconds: {_minutes(judge.max_bake_time_seconds)} lets the "
            f"judge promote only {promote.promote_rate:.0%} of models as good as the baseline; "
            "the rest are rolled back when it runs out"
        )
    return warnings


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.1f} min"
