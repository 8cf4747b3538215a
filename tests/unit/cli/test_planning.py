"""Pure planning arithmetic behind `plan` and `simulate` (the Monte Carlo: tests/unit/judge)."""

from __future__ import annotations

import math
from dataclasses import replace
from statistics import NormalDist

import pytest

from guardrails import stats
from guardrails.cli import planning
from guardrails.config import DeploymentSettings, JudgeSettings, TrafficSettings, default_config
from guardrails.judge.simulation import Summary

ENVS = {
    env.name: env
    for env in default_config(
        {"prod": {"account": "123456789012", "region": "us-east-1"}}
    ).environments
}
# An environment that plans no traffic: its settings are not timed against the judge.
UNTIMED = replace(ENVS["staging"], traffic=TrafficSettings())


def test_the_seeds_example_needs_63_per_group():
    metric = planning.mean_metric(0.0, 0.02, 0.01)
    traffic = planning.split_traffic(10, 50)
    fixed = planning.fixed_horizon(metric, traffic, alpha=0.05, power=0.8)
    assert fixed.per_arm_equal == 63
    assert (fixed.canary_n, fixed.baseline_n) == (63, 63)
    assert fixed.seconds == pytest.approx(63 / 5)


def test_a_small_canary_needs_fewer_canary_requests_but_more_time():
    metric = planning.mean_metric(0.0, 0.02, 0.01)
    fixed = planning.fixed_horizon(metric, planning.split_traffic(10, 10), alpha=0.05, power=0.8)
    # n_canary = (z_a + z_b)^2 (sigma^2 / 9 + sigma^2) / delta^2 with 9 baseline per canary.
    z = NormalDist().inv_cdf(0.975) + NormalDist().inv_cdf(0.8)
    assert fixed.canary_n == math.ceil(z**2 * (0.02**2 / 9 + 0.02**2) / 0.01**2)
    assert fixed.baseline_n == 9 * fixed.canary_n
    assert fixed.canary_n < fixed.per_arm_equal
    assert fixed.seconds == pytest.approx(fixed.canary_n / 1.0)
    assert fixed.seconds > fixed.seconds_equal


def test_an_error_rate_uses_the_binomial_variance_of_both_rates():
    metric = planning.rate_metric(0.01, 0.005)
    fixed = planning.fixed_horizon(metric, planning.split_traffic(20, 50), alpha=0.05, power=0.8)
    assert fixed.per_arm_equal == stats.required_sample_size_proportions(0.01, 0.015)


@pytest.mark.parametrize(
    ("strategy", "percent"),
    [("canary", 10), ("linear", 25), ("rolling", 25), ("ab", 5)],
)
def test_each_strategy_bakes_on_its_smallest_step(strategy, percent):
    env = replace(UNTIMED, deployment=DeploymentSettings(strategy=strategy))
    traffic = planning.strategy_traffic(env, 100)
    assert traffic.canary_rps == pytest.approx(percent)
    assert traffic.baseline_rps == pytest.approx(100 - percent)


def test_a_shadow_sees_a_copy_of_every_request():
    env = replace(UNTIMED, deployment=DeploymentSettings(strategy="shadow"))
    traffic = planning.strategy_traffic(env, 30)
    assert (traffic.canary_rps, traffic.baseline_rps) == (30, 30)


def test_all_at_once_has_no_canary_to_plan_for():
    with pytest.raises(planning.PlanError, match=r"^--canary-share: environments.dev.deployment"):
        planning.strategy_traffic(ENVS["dev"], 30)


def test_design_traffic_is_the_autoscaling_set_point():
    assert planning.design_rps(ENVS["prod"]) == pytest.approx(2 * 750 / 60)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: planning.rate_metric(0, 0.01), "--baseline-rate: must be between 0 and 1"),
        (lambda: planning.rate_metric(1.2, 0.01), "--baseline-rate: must be between 0 and 1"),
        (lambda: planning.rate_metric(0.5, 0.5), "--margin: must be above 0"),
        (lambda: planning.rate_metric(0.5, -0.1), "--margin: must be above 0"),
        (lambda: planning.rate_metric(0.1, 0.6), "--margin: the judge takes error-rate margins"),
        (lambda: planning.mean_metric(40, 0, 5), "--baseline-std: must be above 0"),
        (lambda: planning.mean_metric(math.nan, 1, 5), "--baseline-mean: must be a finite"),
        (lambda: planning.mean_metric(40, 1, 0), "--margin: must be above 0"),
        (lambda: planning.split_traffic(0, 10), "--rps: must be above 0"),
        (lambda: planning.split_traffic(10, 0.1), "--canary-share: a percent from 1 to 99"),
        (lambda: planning.split_traffic(10, 100), "--canary-share: a percent from 1 to 99"),
    ],
)
def test_bad_inputs_name_the_option(call, message):
    with pytest.raises(planning.PlanError, match=f"^{message}"):
        call()


def test_alpha_and_power_are_checked():
    metric = planning.mean_metric(0.0, 1.0, 0.5)
    traffic = planning.split_traffic(10, 10)
    with pytest.raises(planning.PlanError, match="^--power:"):
        planning.fixed_horizon(metric, traffic, alpha=0.05, power=1.0)
    with pytest.raises(planning.PlanError, match="^--alpha:"):
        planning.fixed_horizon(metric, traffic, alpha=0, power=0.8)


def test_the_judge_looks_once_per_interval_until_max_bake_time():
    judge = JudgeSettings(interval_seconds=120, max_bake_time_seconds=3600)
    scenario = planning.judge_scenario(
        planning.rate_metric(0.01, 0.005), planning.split_traffic(10, 10), judge
    )
    assert (scenario.canary_per_look, scenario.baseline_per_look) == (120, 1080)
    assert scenario.max_looks == 30
    assert scenario.canary_share == pytest.approx(0.1)


def test_warnings_name_the_setting_that_is_too_short():
    env = replace(UNTIMED, deployment=DeploymentSettings(), judge=JudgeSettings())  # bake 600 s
    fixed = planning.FixedHorizon(
        per_arm_equal=1, seconds_equal=1, canary_n=1, baseline_n=1, seconds=900
    )
    slow = Summary(
        true_delta=0.005, runs=10, rollback_rate=1, promote_rate=0, undecided_rate=0,
        mean_seconds=300, p95_seconds=1200, mean_canary_n=1, p95_canary_n=1,
    )  # fmt: skip
    rarely_promoted = replace(slow, true_delta=0, rollback_rate=0, promote_rate=0.5)
    warnings = planning.bake_warnings(env, fixed, slow, rarely_promoted)
    assert warnings == [
        "environments.staging.judge.bake_time_seconds: 10.0 min is shorter than the 15.0 min "
        "a fixed-horizon test needs to detect the margin",
        "environments.staging.judge.bake_time_seconds: 10.0 min is shorter than the 20.0 min "
        "the judge needs at worst (p95) to catch a regression of the margin",
        "environments.staging.deployment.wait_interval_seconds: SageMaker shifts more traffic "
        "after 10.0 min, before the 20.0 min the judge needs at worst (p95) to catch a "
        "regression of the margin",
        "environments.staging.judge.max_bake_time_seconds: 120.0 min lets the judge promote "
        "only 50% of models as good as the baseline; the rest are rolled back when it runs out",
    ]
    quick = replace(slow, p95_seconds=60)
    fine = replace(rarely_promoted, promote_rate=1.0)
    short_fixed = replace(fixed, seconds=60)
    assert planning.bake_warnings(env, short_fixed, quick, fine) == []
    all_at_once = replace(env, deployment=DeploymentSettings(strategy="all_at_once"))
    assert not any(
        "wait_interval" in w for w in planning.bake_warnings(all_at_once, fixed, slow, fine)
    )
