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

The bound plans for the error-rate metrics (5xx and 4xx at `traffic.expected_error_rate`),
which need the most requests at the default margins; latency and labelled quality are not
modelled yet.
"""

from __future__ import annotations

import math
from functools import lru_cache
from statistics import NormalDist

from guardrails.judge import evaluate
from guardrails.rollout.schedule import (
    METRICS_DELAY_SECONDS,
    STEPPED_STRATEGIES,
    veto_lead_seconds,
)
from guardrails.rollout.settings import DeploymentSettings, JudgeSettings, TrafficSettings
from guardrails.validation import fail

MAX_WAIT_INTERVAL_SECONDS = 3600  # SageMaker's longest WaitIntervalInSeconds
LONGEST_PLAN_SECONDS = 86_400  # beyond a day the check just says "more than a day"
ADVERSE_Z = NormalDist().inv_cdf(0.95)
# The rollout judges 5xx, 4xx and latency: each metric's rollback test runs at alpha / 3.
METRICS_JUDGED = 3
PROMOTE = "promote"
ROLLBACK = "rollback"


def baking_percent(deployment: DeploymentSettings) -> int | None:
    """The candidate's share while it bakes at its smallest step (None: all traffic at once)."""
    percent = {
        "canary": deployment.canary_percent,
        "linear": deployment.linear_step_percent,
        "rolling": deployment.rolling_batch_percent,
        "ab": deployment.ab_weight_steps[0],
    }.get(deployment.strategy)
    return percent if percent is not None and percent < 100 else None


@lru_cache(maxsize=1024)
def decision_seconds(
    *,
    requests_per_minute: float,
    canary_share: float,
    error_rate: float,
    judge: JudgeSettings,
    outcome: str,
    max_seconds: int = LONGEST_PLAN_SECONDS,
) -> int | None:
    """Upper bound on the judge's p95 time to `outcome`, in seconds; None beyond max_seconds.

    "promote": a model as good as the baseline; "rollback": one worse by the error-rate margin.
    """
    if outcome not in (PROMOTE, ROLLBACK):
        raise ValueError(f"outcome: must be {PROMOTE} or {ROLLBACK} (got {outcome!r})")
    per_look = requests_per_minute * judge.interval_seconds / 60
    max_looks = max_seconds // judge.interval_seconds

    def decided(look: int) -> bool:
        request = _adverse_request(
            canary_n=max(1, round(look * per_look * canary_share)),
            baseline_n=max(1, round(look * per_look * (1 - canary_share))),
            error_rate=error_rate,
            judge=judge,
            outcome=outcome,
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
    *, canary_n: int, baseline_n: int, error_rate: float, judge: JudgeSettings, outcome: str
) -> dict[str, object]:
    """One error-rate metric as the rollout's reader builds it, at the adverse 95th percentile."""
    margin = min(judge.error_rate_margin, 0.499)  # as the reader caps it
    true_rate = error_rate if outcome == PROMOTE else min(1.0, error_rate + margin)
    spread = math.sqrt(
        true_rate * (1 - true_rate) / canary_n + error_rate * (1 - error_rate) / baseline_n
    )
    shown = true_rate + ADVERSE_Z * spread if outcome == PROMOTE else true_rate - ADVERSE_Z * spread
    shown = min(1.0, max(0.0, shown))
    # Promotion needs every metric at the full alpha; a rollback is one metric's at alpha / 3.
    alpha = judge.alpha if outcome == PROMOTE else judge.alpha / METRICS_JUDGED
    return {
        "alpha": alpha,
        "min_samples": judge.min_samples,
        "metrics": [
            {
                "name": "error_rate",
                "kind": "proportion",
                "higher_is_worse": True,
                "margin": margin,
                "limit": judge.max_error_rate if judge.max_error_rate < 1 else None,
                "baseline": {"events": round(baseline_n * error_rate), "trials": baseline_n},
                "canary": {"events": round(canary_n * shown), "trials": canary_n},
            }
        ],
    }


def check_native_timing(
    deployment: DeploymentSettings, judge: JudgeSettings, traffic: TrafficSettings
) -> None:
    """ConfigError when a canary or linear guardrail cannot wait for the judge at this traffic.

    The wait interval must leave the judge its p95 time to promote a model as good as the
    baseline at the first step, plus CloudWatch's delay in showing a minute and the veto's
    lead (schedule): otherwise good models are vetoed. The bake time must be at least the p95
    time to roll back a model worse by the margin. Other strategies are not timed (see
    docs/architecture.md).
    """
    rate = traffic.expected_requests_per_minute
    percent = baking_percent(deployment)
    if rate is None or deployment.strategy not in STEPPED_STRATEGIES or percent is None:
        return

    def time_to(outcome: str) -> int | None:
        return decision_seconds(
            requests_per_minute=rate,
            canary_share=percent / 100,
            error_rate=traffic.expected_error_rate,
            judge=judge,
            outcome=outcome,
        )

    where = f"at {rate:g} requests per minute and the {percent}% {deployment.strategy} step"
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
