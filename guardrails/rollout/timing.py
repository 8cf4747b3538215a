"""How long the judge needs to decide at a given traffic, and whether the native intervals allow it.

Pure and deterministic: `cdk synth` runs `check_native_timing` for every environment, and
`guardrails plan` shares the traffic split (`baking_percent`).

The judge's p95 time to decide is bounded without a Monte Carlo: at look k (one look per
`judge.interval_seconds`) the judge itself (`guardrails.judge.evaluate`) is shown the 95th
percentile of adverse data, the observed difference pushed 1.645 standard errors the wrong way
(towards a regression for a model as good as the baseline, towards none for one worse by the
margin). When the judge decides on that, it decides on at least 95% of samples at look k, so
the first such look bounds the p95 of the time to decide from above (the judge's statistics
move monotonically with the observed difference). A binary search over looks needs about a
dozen judge calls; results are cached. Calibrated against the simulator
(guardrails.judge.simulation): tests/unit/rollout/test_timing.py checks the bound lies at or
above the simulated p95 and within twice it; docs/architecture.md has the numbers.

The judge compares nothing in the canary's warm-up (`judge.warmup_seconds`, in whole minutes
as the reader sends it), so every time to a decision here counts it on top of the bound.

The bound plans for the error-rate metrics (5xx and 4xx at `traffic.expected_error_rate`),
which need the most requests at the default margins, and for labelled accuracy (at
`traffic.expected_accuracy`, margin `judge.quality_margin`) where the replay publishes it (A/B);
latency is not modelled. The traffic is real plus replayed (`TrafficSettings.
planned_requests_per_minute`).

`check_bake_limit` runs for every strategy with a partial traffic step (and shadow): an
environment whose traffic cannot get a model as good as the baseline promoted within
`judge.max_bake_time_seconds` would roll every good model back as stuck.
"""

from __future__ import annotations

import math
from functools import lru_cache
from statistics import NormalDist

from guardrails.judge import evaluate
from guardrails.rollout.metrics import PERIOD_SECONDS
from guardrails.rollout.schedule import (
    METRICS_DELAY_SECONDS,
    STEPPED_STRATEGIES,
    veto_lead_seconds,
)
from guardrails.rollout.settings import (
    MAX_REPLAY_REQUESTS_PER_MINUTE,
    DeploymentSettings,
    JudgeSettings,
    TrafficSettings,
)
from guardrails.validation import fail

MAX_WAIT_INTERVAL_SECONDS = 3600  # SageMaker's longest WaitIntervalInSeconds
LONGEST_PLAN_SECONDS = 86_400  # beyond a day the check just says "more than a day"
ADVERSE_Z = NormalDist().inv_cdf(0.95)
# The rollout judges 5xx, 4xx and latency: each metric's rollback test runs at alpha / 3
# (alpha / 4 where the replay adds labelled accuracy).
METRICS_JUDGED = 3
PROMOTE = "promote"
ROLLBACK = "rollback"
ERROR_RATE = "error_rate"
LABELLED_ACCURACY = "labelled_accuracy"
# Assumed, to check in a real account: SageMaker provisions a new fleet of ml.m5 instances in
# about 8-10 minutes (it does not say); the bake clock runs from UpdateEndpoint on.
PLANNED_PROVISIONING_SECONDS = 600


def baking_percent(deployment: DeploymentSettings) -> int | None:
    """The candidate's share while it bakes at its smallest step (None: all traffic at once)."""
    percent = {
        "canary": deployment.canary_percent,
        "linear": deployment.linear_step_percent,
        "rolling": deployment.rolling_batch_percent,
        "ab": deployment.ab_weight_steps[0],
    }.get(deployment.strategy)
    return percent if percent is not None and percent < 100 else None


def judged_split(deployment: DeploymentSettings) -> tuple[float, float] | None:
    """(traffic multiplier, candidate share) of what the judge compares; None: not timed.

    A shadow gets a copy of every request: as if twice the traffic were split in halves.
    """
    if deployment.strategy == "shadow":
        return 2.0, 0.5
    percent = baking_percent(deployment)
    return None if percent is None else (1.0, percent / 100)


def publishes_accuracy(deployment: DeploymentSettings, traffic: TrafficSettings) -> bool:
    """True where the replay publishes labelled accuracy the judge compares: A/B only.

    Only A/B answers name the fleet that served (InvokedProductionVariant); a native update's
    two fleets share the variant name and a shadow's answers never reach the client.
    """
    return traffic.replays and deployment.kind == "ab"


def warmup_seconds(judge: JudgeSettings) -> int:
    """The canary's first seconds with traffic that the judge leaves out: whole minutes."""
    return math.ceil(judge.warmup_seconds / PERIOD_SECONDS) * PERIOD_SECONDS


@lru_cache(maxsize=1024)
def decision_seconds(
    *,
    requests_per_minute: float,
    canary_share: float,
    error_rate: float,
    judge: JudgeSettings,
    outcome: str,
    max_seconds: int = LONGEST_PLAN_SECONDS,
    metric: str = ERROR_RATE,
    metrics_judged: int = METRICS_JUDGED,
) -> int | None:
    """Upper bound on the judge's p95 time to `outcome` on compared data (after warm-up), in
    seconds; None beyond max_seconds.

    "promote": a model as good as the baseline; "rollback": one worse by the metric's margin.
    `metric` is ERROR_RATE (baseline rate `error_rate`) or LABELLED_ACCURACY (baseline accuracy
    `error_rate`, margin `judge.quality_margin`).
    """
    if outcome not in (PROMOTE, ROLLBACK):
        raise ValueError(f"outcome: must be {PROMOTE} or {ROLLBACK} (got {outcome!r})")
    if metric not in (ERROR_RATE, LABELLED_ACCURACY):
        raise ValueError(f"metric: must be {ERROR_RATE} or {LABELLED_ACCURACY} (got {metric!r})")
    per_look = requests_per_minute * judge.interval_seconds / 60
    max_looks = max_seconds // judge.interval_seconds
    if per_look * min(canary_share, 1 - canary_share) <= 0:
        return None

    def decided(look: int) -> bool:
        request = _adverse_request(
            canary_n=max(1, round(look * per_look * canary_share)),
            baseline_n=max(1, round(look * per_look * (1 - canary_share))),
            baseline=error_rate,
            judge=judge,
            outcome=outcome,
            metric=metric,
            metrics_judged=metrics_judged,
        )
        return bool(evaluate(request)["decision"] == outcome)

    low, high = 1, 1
    while not decided(high):
        if high >= max_looks:
            return None
        low, high = high + 1, min(2 * high, max_looks)
    while low < high:
        middle = (low + high) // 2
        if decided(middle):
            high = middle
        else:
            low = middle + 1
    return low * judge.interval_seconds


def _adverse_request(
    *,
    canary_n: int,
    baseline_n: int,
    baseline: float,
    judge: JudgeSettings,
    outcome: str,
    metric: str,
    metrics_judged: int,
) -> dict[str, object]:
    """One metric as the rollout's reader builds it, at the adverse 95th percentile.

    The error rate rises with harm; accuracy falls with it (the reader's `labelled_accuracy`,
    lower is worse), so its adverse data is pushed the other way.
    """
    accuracy = metric == LABELLED_ACCURACY
    harm = -1.0 if accuracy else 1.0
    # Proportion margins below 0.5, as the reader caps them.
    margin = min(judge.quality_margin if accuracy else judge.error_rate_margin, 0.499)
    true_rate = baseline if outcome == PROMOTE else min(1.0, max(0.0, baseline + harm * margin))
    spread = math.sqrt(
        true_rate * (1 - true_rate) / canary_n + baseline * (1 - baseline) / baseline_n
    )
    push = ADVERSE_Z * spread if outcome == PROMOTE else -ADVERSE_Z * spread
    shown = min(1.0, max(0.0, true_rate + harm * push))
    # Promotion needs every metric at the full alpha; a rollback is one metric's share.
    alpha = judge.alpha if outcome == PROMOTE else judge.alpha / metrics_judged
    judged: dict[str, object] = {
        "name": metric,
        "kind": "proportion",
        "higher_is_worse": not accuracy,
        "margin": margin,
        "baseline": {"events": round(baseline_n * baseline), "trials": baseline_n},
        "canary": {"events": round(canary_n * shown), "trials": canary_n},
    }
    if not accuracy:
        judged["limit"] = judge.max_error_rate if judge.max_error_rate < 1 else None
    return {"alpha": alpha, "min_samples": judge.min_samples, "metrics": [judged]}


def promotion_seconds(
    deployment: DeploymentSettings, judge: JudgeSettings, traffic: TrafficSettings
) -> tuple[int | None, str]:
    """The judge's p95 time to promote a model as good as the baseline (warm-up included), and
    the slowest metric.

    (None, metric) when it cannot within a day; (None, "") when the strategy is not timed or
    the traffic is unknown.
    """
    rate = traffic.planned_requests_per_minute
    split = judged_split(deployment)
    if rate is None or split is None:
        return None, ""
    multiplier, share = split
    metrics = [(ERROR_RATE, traffic.expected_error_rate)]
    if publishes_accuracy(deployment, traffic):
        metrics.append((LABELLED_ACCURACY, traffic.expected_accuracy))
    slowest: tuple[int | None, str] = (0, ERROR_RATE)
    for metric, baseline in metrics:
        seconds = decision_seconds(
            requests_per_minute=rate * multiplier,
            canary_share=share,
            error_rate=baseline,
            judge=judge,
            outcome=PROMOTE,
            metric=metric,
        )
        if seconds is None:
            return None, metric
        seconds += warmup_seconds(judge)
        if slowest[0] is not None and seconds > slowest[0]:
            slowest = (seconds, metric)
    return slowest


def needed_bake_seconds(
    deployment: DeploymentSettings, judge: JudgeSettings, traffic: TrafficSettings
) -> tuple[int | None, str]:
    """p95 seconds from UpdateEndpoint to a good model's promotion, and the slowest metric.

    Provisioning the new fleet, the judge's time to promote at the first step and CloudWatch's
    delay; an A/B rollout also bakes `deployment.wait_interval_seconds` at every step below
    100%. (None, metric) when the judge cannot promote within a day; (None, "") when not timed.
    """
    promote, metric = promotion_seconds(deployment, judge, traffic)
    if promote is None:
        return None, metric
    needed = PLANNED_PROVISIONING_SECONDS + promote + METRICS_DELAY_SECONDS
    if deployment.kind == "ab":
        steps_below_all = len(deployment.ab_weight_steps) - 1
        needed = max(
            needed,
            PLANNED_PROVISIONING_SECONDS + steps_below_all * deployment.wait_interval_seconds,
        )
    return needed, metric


def check_bake_limit(
    deployment: DeploymentSettings, judge: JudgeSettings, traffic: TrafficSettings
) -> None:
    """ConfigError when the planned traffic cannot get a good model promoted in the max bake time.

    Past `judge.max_bake_time_seconds` an undecided rollout is rolled back as stuck, so a model
    as good as the baseline must be promoted before (`needed_bake_seconds`, every metric the
    rollout will judge). All-at-once is not timed; see docs/architecture.md.
    """
    if traffic.planned_requests_per_minute is None or judged_split(deployment) is None:
        return
    needed, metric = needed_bake_seconds(deployment, judge, traffic)
    if needed is not None and needed <= judge.max_bake_time_seconds:
        return
    promote, _ = promotion_seconds(deployment, judge, traffic)
    overhead = (PLANNED_PROVISIONING_SECONDS + METRICS_DELAY_SECONDS) // 60
    remedies = (
        f"replay more (at most {MAX_REPLAY_REQUESTS_PER_MINUTE} a minute)"
        if traffic.replays
        else "replay test data (traffic.replay_requests_per_minute)"
    )
    if metric == LABELLED_ACCURACY:
        remedies += ", widen judge.quality_margin"
    fail(
        "traffic.replay_requests_per_minute"
        if traffic.replays
        else "traffic.expected_requests_per_minute",
        f"{_where(deployment, traffic)} a model as good as the baseline is promoted only after "
        f"{_minutes(needed)} (p95: the judge needs {_minutes(promote)} on "
        f"{_metric_text(metric, judge, traffic)}, plus {overhead} min to provision the new "
        "fleet and for CloudWatch): more than judge.max_bake_time_seconds "
        f"({_minutes(judge.max_bake_time_seconds)}), after which it is rolled back as stuck; "
        f"{remedies}, raise judge.max_bake_time_seconds, or give the candidate a larger first "
        "step",
    )


def _metric_text(metric: str, judge: JudgeSettings, traffic: TrafficSettings) -> str:
    if metric == LABELLED_ACCURACY:
        return f"labelled accuracy {traffic.expected_accuracy:g}, margin {judge.quality_margin:g}"
    return f"error rate {traffic.expected_error_rate:g}, margin {judge.error_rate_margin:g}"


def _where(deployment: DeploymentSettings, traffic: TrafficSettings) -> str:
    """ "at 300 requests per minute and the 25% linear step" (real and replayed when replaying)."""
    real = traffic.expected_requests_per_minute or 0.0
    rate = (
        f"{real:g} real + {traffic.replay_requests_per_minute} replayed requests per minute"
        if traffic.replays
        else f"{real:g} requests per minute"
    )
    if deployment.strategy == "shadow":
        return f"at {rate} copied to the shadow"
    return f"at {rate} and the {baking_percent(deployment)}% {deployment.strategy} step"


def check_native_timing(
    deployment: DeploymentSettings, judge: JudgeSettings, traffic: TrafficSettings
) -> None:
    """ConfigError when a canary or linear guardrail cannot wait for the judge at this traffic.

    The wait interval must leave the judge its p95 time to promote a model as good as the
    baseline at the first step (after the canary's warm-up), plus CloudWatch's delay in
    showing a minute and the veto's lead (schedule): otherwise good models are vetoed. The
    bake time must be at least the p95 time to roll back a model worse by the margin. Other
    strategies are not timed (see docs/architecture.md).
    """
    rate = traffic.planned_requests_per_minute
    percent = baking_percent(deployment)
    if rate is None or deployment.strategy not in STEPPED_STRATEGIES or percent is None:
        return

    def time_to(outcome: str) -> int | None:
        seconds = decision_seconds(
            requests_per_minute=rate,
            canary_share=percent / 100,
            error_rate=traffic.expected_error_rate,
            judge=judge,
            outcome=outcome,
        )
        return None if seconds is None else seconds + warmup_seconds(judge)

    where = _where(deployment, traffic)
    lead = veto_lead_seconds(judge) + METRICS_DELAY_SECONDS
    promote = time_to(PROMOTE)
    needed = None if promote is None else promote + lead
    if needed is None or needed > MAX_WAIT_INTERVAL_SECONDS:
        fail(
            "deployment.wait_interval_seconds",
            f"{where} the judge needs {_minutes(promote)} (p95) to promote a model as good as "
            f"the baseline, plus {lead} s for CloudWatch and to stop SageMaker in time: more than "
            "the longest "
            f"interval SageMaker allows ({MAX_WAIT_INTERVAL_SECONDS // 60} min); use "
            'deployment.strategy "ab" (judge-paced: traffic moves only when the judge '
            "promotes), a larger first step, or plan for more traffic",
        )
    if deployment.wait_interval_seconds < needed:
        fail(
            "deployment.wait_interval_seconds",
            f"{_minutes(deployment.wait_interval_seconds)} is shorter than the "
            f"{_minutes(needed)} the judge needs {where} to promote a model as good as the "
            f"baseline (p95, with {lead} s for CloudWatch and to stop SageMaker); set at least "
            f"{math.ceil(needed)} s",
        )
    rollback = time_to(ROLLBACK)
    if rollback is None or judge.bake_time_seconds < rollback:
        fail(
            "judge.bake_time_seconds",
            f"{_minutes(judge.bake_time_seconds)} is shorter than the {_minutes(rollback)} the "
            f"judge needs {where} to roll back a model worse by the margin (p95)"
            + (f"; set at least {rollback} s" if rollback is not None else ""),
        )


def _minutes(seconds: float | None) -> str:
    if seconds is None:
        return "more than a day"
    return f"{seconds / 60:.1f} min"
