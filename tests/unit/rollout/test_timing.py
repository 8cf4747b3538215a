"""The synth-time timing check: the judge's p95 time to decide, bounded; short intervals refused."""

from __future__ import annotations

import pytest

from guardrails.judge.simulation import Scenario, simulate
from guardrails.rollout import timing
from guardrails.rollout.settings import DeploymentSettings, JudgeSettings, TrafficSettings
from guardrails.validation import ConfigError

JUDGE = JudgeSettings()


def bound(requests_per_minute: float, share: float, outcome: str, **judge) -> int | None:
    return timing.decision_seconds(
        requests_per_minute=requests_per_minute,
        canary_share=share,
        error_rate=0.001,
        judge=JudgeSettings(**judge) if judge else JUDGE,
        outcome=outcome,
    )


@pytest.mark.parametrize(
    ("requests_per_minute", "share"),
    [(3000, 0.10), (1500, 0.25)],
)
def test_the_bound_lies_above_the_simulated_p95_and_within_twice_it(requests_per_minute, share):
    """Calibration: the same judge, fed Monte Carlo rollouts (small runs: bench/ has more)."""
    per_look = requests_per_minute * JUDGE.interval_seconds / 60
    for outcome, true_delta, alpha in (
        (timing.PROMOTE, 0.0, JUDGE.alpha),
        # A rollback is one metric's test at alpha / 3 (5xx, 4xx and latency are judged).
        (timing.ROLLBACK, JUDGE.error_rate_margin, JUDGE.alpha / timing.METRICS_JUDGED),
    ):
        scenario = Scenario(
            kind="proportion",
            baseline=0.001,
            margin=JUDGE.error_rate_margin,
            alpha=alpha,
            min_samples=JUDGE.min_samples,
            canary_per_look=round(per_look * share),
            baseline_per_look=round(per_look * (1 - share)),
            max_looks=120,
            interval_seconds=JUDGE.interval_seconds,
        )
        simulated = simulate(scenario, true_delta, runs=100, seed=11)
        bounded = bound(requests_per_minute, share, outcome)
        assert bounded is not None
        assert simulated.p95_seconds * 0.9 <= bounded <= 2 * simulated.p95_seconds, outcome


def test_less_traffic_and_a_smaller_share_take_longer():
    assert bound(1500, 0.25, timing.PROMOTE) < bound(1500, 0.10, timing.PROMOTE)
    assert bound(1500, 0.10, timing.PROMOTE) < bound(300, 0.10, timing.PROMOTE)
    assert bound(300, 0.10, timing.PROMOTE) < bound(300, 0.10, timing.ROLLBACK)


def test_a_judge_that_cannot_decide_within_the_limit_says_none():
    assert (
        timing.decision_seconds(
            requests_per_minute=60,
            canary_share=0.05,
            error_rate=0.001,
            judge=JUDGE,
            outcome=timing.PROMOTE,
            max_seconds=3600,
        )
        is None
    )


def test_a_model_at_the_judges_ceiling_is_never_promoted():
    assert (
        timing.decision_seconds(
            requests_per_minute=100_000,
            canary_share=0.5,
            error_rate=JUDGE.max_error_rate,
            judge=JUDGE,
            outcome=timing.PROMOTE,
            max_seconds=3600,
        )
        is None
    )


def check(deployment: DeploymentSettings, judge: JudgeSettings = JUDGE, rpm: float | None = 1500):
    timing.check_native_timing(deployment, judge, TrafficSettings(expected_requests_per_minute=rpm))


LINEAR = dict(strategy="linear", linear_step_percent=25)


def test_a_wait_interval_long_enough_for_the_judge_passes():
    check(
        DeploymentSettings(**LINEAR, wait_interval_seconds=900),
        JudgeSettings(bake_time_seconds=1800),
    )


def test_a_short_wait_interval_is_refused_with_the_minutes_needed():
    with pytest.raises(ConfigError) as refused:
        check(DeploymentSettings(**LINEAR, wait_interval_seconds=300))
    assert refused.value.field == "deployment.wait_interval_seconds"
    needed = bound(1500, 0.25, timing.PROMOTE) + 120 + 60 + 120 + 180  # warm-up, then lead
    assert refused.value.rule == (
        f"5.0 min is shorter than the {needed / 60:.1f} min the judge needs at 1500 requests "
        "per minute and the 25% linear step to promote a model as good as the baseline (p95, "
        f"with 360 s for CloudWatch and to stop SageMaker); set at least {needed} s"
    )


@pytest.mark.parametrize(("warmup", "counted"), [(0, 0), (90, 120), (180, 180)])
def test_the_canary_warm_up_adds_its_whole_minutes_to_the_time_to_decide(warmup, counted):
    """The judge compares nothing in the warm-up: every time to a decision starts after it."""
    judge = JudgeSettings(warmup_seconds=warmup)
    traffic = TrafficSettings(expected_requests_per_minute=1500)
    promote, _ = timing.promotion_seconds(DeploymentSettings(**LINEAR), judge, traffic)
    assert promote == bound(1500, 0.25, timing.PROMOTE) + counted


def test_an_interval_long_enough_only_without_the_warm_up_is_refused():
    deployment = DeploymentSettings(**LINEAR, wait_interval_seconds=900)
    check(deployment, JudgeSettings(bake_time_seconds=1800, warmup_seconds=0))
    with pytest.raises(ConfigError) as refused:
        check(deployment, JudgeSettings(bake_time_seconds=1800, warmup_seconds=600))
    assert refused.value.field == "deployment.wait_interval_seconds"
    needed = bound(1500, 0.25, timing.PROMOTE) + 600 + 360
    assert f"set at least {needed} s" in refused.value.rule


def test_too_little_traffic_for_any_interval_names_ab():
    with pytest.raises(ConfigError) as refused:
        check(DeploymentSettings(strategy="canary", canary_percent=10), rpm=300)
    assert refused.value.field == "deployment.wait_interval_seconds"
    assert "more than the longest interval SageMaker allows (60 min)" in refused.value.rule
    assert 'use deployment.strategy "ab" (judge-paced' in refused.value.rule


def test_a_bake_time_shorter_than_catching_a_regression_is_refused():
    with pytest.raises(ConfigError) as refused:
        check(
            DeploymentSettings(**LINEAR, wait_interval_seconds=900),
            JudgeSettings(bake_time_seconds=300),
        )
    assert refused.value.field == "judge.bake_time_seconds"
    assert refused.value.rule.startswith("5.0 min is shorter than the ")
    assert "to roll back a model worse by the margin (p95); set at least" in refused.value.rule


@pytest.mark.parametrize("strategy", ["all_at_once", "rolling", "ab", "shadow"])
def test_strategies_sagemaker_does_not_step_on_a_timer_are_not_timed(strategy):
    check(
        DeploymentSettings(strategy=strategy, wait_interval_seconds=60),
        JudgeSettings(bake_time_seconds=60),
        rpm=10,
    )


def test_no_planned_traffic_means_no_check():
    check(DeploymentSettings(strategy="canary", wait_interval_seconds=60), rpm=None)


def test_the_bound_is_deterministic():
    timing.decision_seconds.cache_clear()
    first = bound(600, 0.5, timing.ROLLBACK)
    timing.decision_seconds.cache_clear()
    assert bound(600, 0.5, timing.ROLLBACK) == first


# ------------------------------------------------------------------ replayed traffic


def test_the_accuracy_bound_lies_above_the_simulated_p95_and_within_twice_it():
    """Labelled accuracy at 0.9 is a misclassification rate of 0.1 that must not rise."""
    judge = JudgeSettings(quality_margin=0.05)
    per_look = 120 * judge.interval_seconds / 60
    scenario = Scenario(
        kind="proportion",
        baseline=0.1,
        margin=0.05,
        alpha=judge.alpha,
        min_samples=judge.min_samples,
        canary_per_look=round(per_look / 2),
        baseline_per_look=round(per_look / 2),
        max_looks=200,
        interval_seconds=judge.interval_seconds,
    )
    simulated = simulate(scenario, 0.0, runs=100, seed=11)
    bounded = timing.decision_seconds(
        requests_per_minute=120,
        canary_share=0.5,
        error_rate=0.9,
        judge=judge,
        outcome=timing.PROMOTE,
        metric=timing.LABELLED_ACCURACY,
    )
    assert bounded is not None
    assert simulated.p95_seconds * 0.9 <= bounded <= 2 * simulated.p95_seconds


def test_a_wider_accuracy_margin_and_more_replay_decide_sooner():
    def promote(rpm: float, margin: float) -> int | None:
        return timing.decision_seconds(
            requests_per_minute=rpm,
            canary_share=0.5,
            error_rate=0.9,
            judge=JudgeSettings(quality_margin=margin),
            outcome=timing.PROMOTE,
            metric=timing.LABELLED_ACCURACY,
        )

    assert promote(120, 0.05) < promote(120, 0.03) < promote(60, 0.03)
    assert promote(0, 0.05) is None  # no traffic at all never decides


AB_REPLAYING = DeploymentSettings(
    strategy="ab", ab_weight_steps=(50, 100), wait_interval_seconds=1800
)
REPLAY_ONLY = TrafficSettings(expected_requests_per_minute=0, replay_requests_per_minute=120)


def test_the_replay_adds_to_real_traffic_and_accuracy_counts_only_for_ab():
    assert REPLAY_ONLY.planned_requests_per_minute == 120
    assert TrafficSettings(expected_requests_per_minute=300).planned_requests_per_minute == 300
    assert TrafficSettings().planned_requests_per_minute is None
    assert timing.publishes_accuracy(AB_REPLAYING, REPLAY_ONLY)
    assert not timing.publishes_accuracy(DeploymentSettings(strategy="canary"), REPLAY_ONLY)
    assert not timing.publishes_accuracy(AB_REPLAYING, TrafficSettings())
    judge = JudgeSettings(quality_margin=0.02)
    assert timing.promotion_seconds(AB_REPLAYING, judge, REPLAY_ONLY)[1] == timing.LABELLED_ACCURACY


def test_replay_enough_to_promote_within_the_max_bake_passes():
    judge = JudgeSettings(bake_time_seconds=3600, quality_margin=0.05)
    timing.check_bake_limit(AB_REPLAYING, judge, REPLAY_ONLY)
    needed, metric = timing.needed_bake_seconds(AB_REPLAYING, judge, REPLAY_ONLY)
    promote, _ = timing.promotion_seconds(AB_REPLAYING, judge, REPLAY_ONLY)
    assert needed == timing.PLANNED_PROVISIONING_SECONDS + promote + 180
    assert needed < judge.max_bake_time_seconds


def test_too_little_replay_for_the_max_bake_is_refused_naming_the_settings():
    judge = JudgeSettings(bake_time_seconds=3600, quality_margin=0.05)
    slow = TrafficSettings(expected_requests_per_minute=0, replay_requests_per_minute=30)
    with pytest.raises(ConfigError) as refused:
        timing.check_bake_limit(AB_REPLAYING, judge, slow)
    assert refused.value.field == "traffic.replay_requests_per_minute"
    rule = refused.value.rule
    assert rule.startswith("at 0 real + 30 replayed requests per minute and the 50% ab step a ")
    assert "more than judge.max_bake_time_seconds (120.0 min)" in rule
    assert "replay more (at most 600 a minute)" in rule


def test_an_accuracy_margin_too_narrow_for_the_replay_is_refused_naming_it():
    with pytest.raises(ConfigError) as refused:
        timing.check_bake_limit(AB_REPLAYING, JudgeSettings(quality_margin=0.02), REPLAY_ONLY)
    assert "on labelled accuracy 0.9, margin 0.02" in refused.value.rule
    assert "widen judge.quality_margin" in refused.value.rule


def test_ab_steps_below_all_traffic_each_bake_the_wait_interval():
    slow_steps = DeploymentSettings(
        strategy="ab", ab_weight_steps=(50, 75, 90, 100), wait_interval_seconds=3600
    )
    needed, _ = timing.needed_bake_seconds(
        slow_steps, JudgeSettings(quality_margin=0.05), REPLAY_ONLY
    )
    assert needed == timing.PLANNED_PROVISIONING_SECONDS + 3 * 3600


def test_a_shadow_sees_every_request_and_all_at_once_is_not_timed():
    shadow = DeploymentSettings(strategy="shadow")
    half = DeploymentSettings(strategy="ab", ab_weight_steps=(50, 100))
    at_60 = TrafficSettings(expected_requests_per_minute=60)
    # A copy of every request: the shadow's arm gets all 60, as a 50% split of 120 would.
    assert timing.promotion_seconds(shadow, JUDGE, at_60)[0] == timing.promotion_seconds(
        half, JUDGE, TrafficSettings(expected_requests_per_minute=120)
    )[0]
    assert timing.promotion_seconds(DeploymentSettings(strategy="all_at_once"), JUDGE, at_60) == (
        None,
        "",
    )
    timing.check_bake_limit(DeploymentSettings(strategy="all_at_once"), JUDGE, REPLAY_ONLY)


def test_the_native_check_counts_the_replay_too():
    half_canary = DeploymentSettings(
        strategy="canary", canary_percent=50, wait_interval_seconds=1800
    )
    with pytest.raises(ConfigError) as refused:
        timing.check_native_timing(half_canary, JudgeSettings(bake_time_seconds=3600), REPLAY_ONLY)
    assert refused.value.field == "deployment.wait_interval_seconds"
    assert "at 0 real + 120 replayed requests per minute and the 50% canary step" in (
        refused.value.rule
    )
