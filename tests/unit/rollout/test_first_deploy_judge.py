"""The first deploy's judge: limits only, no baseline (pure)."""

from __future__ import annotations

from guardrails.rollout.first_deploy import limits_verdict, without_baseline
from guardrails.rollout.settings import JudgeSettings
from tests.unit.judge.builders import mean_minutes, prop_minutes

LIMITS = JudgeSettings()


def request(errors: int, trials: int, latency_ms: float = 40.0, n: int | None = None) -> dict:
    return without_baseline(
        {
            "alpha": LIMITS.alpha,
            "min_samples": LIMITS.min_samples,
            "metrics": [
                {"name": "error_rate_5xx", "kind": "proportion", "higher_is_worse": True,
                 "margin": 0.005, "limit": LIMITS.max_error_rate,
                 "baseline": {"events": 0, "trials": 10_000},
                 "canary": {"events": errors, "trials": trials} if trials else None},
                {"name": "model_latency_ms", "kind": "mean", "higher_is_worse": True,
                 "margin": 5.0, "limit": LIMITS.max_latency_ms, "baseline": None,
                 "canary": {"n": n if n is not None else trials, "mean": latency_ms,
                            "std": latency_ms / 2} if trials else None},
            ],
        }
    )  # fmt: skip


def test_no_data_is_no_breach():
    verdict = limits_verdict(request(0, 0))
    assert verdict["decision"] == "promote"
    assert [m["reason"] for m in verdict["metrics"]] == ["no data yet", "no data yet"]


def test_a_healthy_model_is_not_held_back():
    assert limits_verdict(request(2, 2000))["decision"] == "promote"


def test_a_model_clearly_above_the_error_limit_is_rolled_back():
    verdict = limits_verdict(request(200, 1000))
    assert verdict["decision"] == "rollback"
    assert verdict["reason"].startswith("first deploy: error_rate_5xx: 0.2 significantly above")


def test_a_model_clearly_above_the_latency_limit_is_rolled_back():
    verdict = limits_verdict(request(0, 500, latency_ms=2000.0))
    assert verdict["decision"] == "rollback"
    assert "model_latency_ms" in verdict["reason"]


def test_a_rate_just_above_the_limit_on_few_requests_is_not_enough():
    """Always-valid: a handful of errors proves nothing; the limit test waits for evidence."""
    assert limits_verdict(request(1, 50))["decision"] == "promote"


def test_the_recorded_request_has_no_baseline():
    assert all(m["baseline"] is None for m in request(2, 2000)["metrics"])


def per_minute(errors: int, trials: int, latency_ms: float, minutes: int = 5) -> dict:
    """The reader's per-minute form of one new fleet: lognormal latency minutes, no baseline."""
    return without_baseline(
        {
            "alpha": LIMITS.alpha,
            "min_samples": LIMITS.min_samples,
            "metrics": [
                prop_minutes(*[(0, trials, errors, trials)] * minutes,
                             name="error_rate_5xx", limit=LIMITS.max_error_rate),
                mean_minutes(*[(trials, latency_ms, trials, latency_ms)] * minutes,
                             name="model_latency_ms", limit=LIMITS.max_latency_ms),
            ],
        }
    )  # fmt: skip


def test_the_per_minute_form_is_judged_on_the_canary_alone():
    healthy = per_minute(1, 500, 40.0)
    assert all(m["baseline"] is None for metric in healthy["metrics"] for m in metric["minutes"])
    assert limits_verdict(healthy)["decision"] == "promote"
    failing = limits_verdict(per_minute(100, 500, 40.0))
    assert failing["decision"] == "rollback" and "error_rate_5xx" in failing["reason"]
    slow = limits_verdict(per_minute(0, 500, 2000.0))
    assert slow["decision"] == "rollback" and "model_latency_ms" in slow["reason"]
