"""Monte Carlo of the sequential judge on an error-rate metric, with ``random`` only.

The Lambda package leaves this module out (infra/lambda_code.py), so nothing the handlers
import may import it.
"""

from __future__ import annotations

import math
import random
from typing import Any

from guardrails.judge.decision import evaluate
from guardrails.judge.request import DEFAULT_ALPHA, DEFAULT_MIN_SAMPLES

__all__ = ["binomial", "simulate_sequential"]


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
        if isinstance(ival, bool) or not isinstance(ival, int) or ival < 1:
            raise ValueError(f"{name}: must be an integer >= 1, got {ival!r}")
    base_every = max(1, round(look_every * (1.0 - canary_share) / canary_share))
    rng = random.Random(seed)
    counts = {"rollback": 0, "promote": 0, "continue": 0}
    used: list[int] = []
    used_by: dict[str, list[int]] = {"rollback": [], "promote": []}
    for _ in range(runs):
        xb = xc = nb = nc = 0
        decision = "continue"
        while nc < max_canary:
            step = min(look_every, max_canary - nc)
            nc += step
            step_b = max(1, round(step * base_every / look_every))
            nb += step_b
            xc += binomial(rng, step, p1)
            xb += binomial(rng, step_b, p0)
            decision = evaluate(
                {
                    "alpha": alpha,
                    "min_samples": min_samples,
                    "metrics": [
                        {
                            "name": "error_rate",
                            "kind": "proportion",
                            "higher_is_worse": True,
                            "margin": margin,
                            "baseline": {"events": xb, "trials": nb},
                            "canary": {"events": xc, "trials": nc},
                        }
                    ],
                }
            )["decision"]
            if decision != "continue":
                break
        counts[decision] += 1
        used.append(nc)
        if decision in used_by:
            used_by[decision].append(nc)
    used.sort()
    p95 = used[min(len(used) - 1, math.ceil(0.95 * len(used)) - 1)]
    return {
        "runs": runs,
        "rollback_rate": counts["rollback"] / runs,
        "promote_rate": counts["promote"] / runs,
        "continue_rate": counts["continue"] / runs,
        "mean_canary_samples": sum(used) / runs,
        "p95_canary_samples": p95,
        "mean_canary_samples_rollback": (
            sum(used_by["rollback"]) / len(used_by["rollback"]) if used_by["rollback"] else None
        ),
        "mean_canary_samples_promote": (
            sum(used_by["promote"]) / len(used_by["promote"]) if used_by["promote"] else None
        ),
        "baseline_per_look": base_every,
    }
