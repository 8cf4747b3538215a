"""The judge on the path production takes: CloudWatch aggregates -> the Lambda's reader -> evaluate.

    nice -n 10 python bench/judge_realpath.py --write    # every cell, 1,000 rollouts each
    python bench/judge_realpath.py --runs 100 --only leak  # a quick look at some cells

Each simulated rollout is a blue/green canary on one endpoint: every minute both fleets serve
Poisson traffic, ``guardrails.judge.cloudwatch_simulation`` turns their requests into the
per-minute aggregates GetMetricData returns for the rollout's queries (the aggregate of both
fleets and the new fleet: counts, sums, min/max, p50/p90/p99 of log-normal latencies with
log-scale sd 1), ``guardrails.rollout.metrics.judge_request`` (the Lambda's reader, with the
default JudgeSettings unless a cell says otherwise) builds the request and
``guardrails.judge.evaluate`` decides. One look a minute for 120 minutes; the rollout stops
at the first rollback, or at the first promote once it has baked ``bake_time_seconds``
(default 600 s), as the rollout's policy does. Nothing hands the judge a true parameter.

The +2 margin cells also run Wald's SPRT on the same canary data, knowing the baseline's
true rate or mean and std and the effect (alpha = beta = 0.05): the lower limit on the
requests any test needs.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import sys
import time
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.common import best_seconds, write_block  # noqa: E402
from guardrails.judge import evaluate  # noqa: E402
from guardrails.judge.cloudwatch_simulation import FleetSimulator, Traffic  # noqa: E402
from guardrails.rollout.metrics import fleet_plan, judge_request  # noqa: E402
from guardrails.rollout.settings import JudgeSettings  # noqa: E402

SEED = 20261127
DEFAULT_RUNS = 1000  # rollouts per cell
MINUTES = 120
ALPHA = 0.05
ERROR_MARGIN = JudgeSettings().error_rate_margin  # 0.5 pp
LATENCY_MARGIN = JudgeSettings().latency_margin_ms  # 5 ms
LATENCY_MEAN = 50.0  # ms, log-normal with log-scale sd 1: median 30.3 ms, sd 65.5 ms
LATENCY_SD = LATENCY_MEAN * math.sqrt(math.expm1(1.0))
PLAN = fleet_plan(
    kind="native", endpoint_name="e", variant_name="AllTraffic", candidate_variant="",
    candidate_config="new",
)  # fmt: skip
STEPS = ((0, 0.10), (10, 0.25), (20, 0.50))  # canary share 10 -> 25 -> 50 %
SECTION = "## The judge on the real path (CloudWatch aggregates)"


@dataclass(frozen=True)
class Cell:
    """One row: the traffic, the settings, and what the row checks."""

    group: str
    label: str
    traffic: Traffic
    check: str  # "null": rollback is false; "margin": promote is false; "power"; "leak";
    # "contrast": a row that shows what a setting buys, no requirement
    settings: dict[str, Any] = field(default_factory=dict)
    metric: str = ""  # the metric that differs ("" when none)


def cells() -> list[Cell]:
    """Every row of issue 10's table, plus low traffic and base rates near 0% and 50%."""
    base = Traffic(latency_mean_ms=LATENCY_MEAN)
    err_m = replace(base, error_delta=ERROR_MARGIN)
    err_2m = replace(base, error_delta=2 * ERROR_MARGIN)
    lat_m = replace(base, latency_delta_ms=LATENCY_MARGIN)
    lat_2m = replace(base, latency_delta_ms=2 * LATENCY_MARGIN)
    steps = replace(base, share_steps=STEPS)
    low = replace(base, requests_per_minute=20.0)
    out = [
        Cell("1,000 req/min", "no difference", base, "null"),
        Cell("1,000 req/min", "5xx +margin", err_m, "margin", metric="error_rate_5xx"),
        Cell("1,000 req/min", "5xx +2 margins", err_2m, "power", metric="error_rate_5xx"),
        Cell("1,000 req/min", "latency +margin", lat_m, "margin", metric="model_latency_ms"),
        Cell("1,000 req/min", "latency +2 margins", lat_2m, "power", metric="model_latency_ms"),
        Cell(
            "10,000 req/min", "no difference", replace(base, requests_per_minute=10_000.0), "null"
        ),
        Cell(
            "10,000 req/min", "latency +margin",
            replace(lat_m, requests_per_minute=10_000.0), "margin", metric="model_latency_ms",
        ),
        Cell(
            "share 10->25->50%", "rates and latency rising together (+2%/min)",
            replace(steps, trend_per_minute=0.02), "null",
        ),
        Cell(
            "share 10->25->50%", "falling trend (-0.5%/min), 5xx +margin",
            replace(steps, trend_per_minute=-0.005, error_delta=ERROR_MARGIN), "margin",
            metric="error_rate_5xx",
        ),
        Cell(
            "share 10->25->50%", "falling trend (-0.5%/min), latency +margin",
            replace(steps, trend_per_minute=-0.005, latency_delta_ms=LATENCY_MARGIN), "margin",
            metric="model_latency_ms",
        ),
        Cell(
            "share 10->25->50%", "one-minute shared outage (20% 5xx, minute 15)",
            replace(steps, outage_minutes=(15,)), "null",
        ),
        Cell(
            "1% 5xx limit, p0 0.5%", "shared outage at minute 5",
            replace(base, error_rate=0.005, outage_minutes=(5,)), "null",
        ),
        Cell(
            "all metrics live", "5xx (p0 0.5%, 1% limit), 4xx (2%), latency (500 ms limit)",
            replace(base, error_rate=0.005, client_error_rate=0.02), "null",
        ),
        Cell(
            "shared latency shock", "x LogNormal(0, 0.3) per minute, both fleets",
            replace(base, shock_sigma=0.3), "null",
        ),
        Cell(
            "shared latency shock", "latency +margin", replace(lat_m, shock_sigma=0.3),
            "margin", metric="model_latency_ms",
        ),
        Cell(
            "cold start", "canary latency x3 for its first 2 minutes, warm-up 3 min",
            replace(base, cold_start_minutes=2.0), "null", {"warmup_seconds": 180},
        ),
        Cell(
            "cold start", "same, no warm-up",
            replace(base, cold_start_minutes=2.0), "contrast", {"warmup_seconds": 0},
        ),
        Cell(
            "slow leak, 30-min bake", "5xx +2 margins from minute 30",
            replace(err_2m, regression_from=30), "leak", {"bake_time_seconds": 1800},
            metric="error_rate_5xx",
        ),
        Cell(
            "slow leak, 30-min bake", "latency +2 margins from minute 30",
            replace(lat_2m, regression_from=30), "leak", {"bake_time_seconds": 1800},
            metric="model_latency_ms",
        ),
        Cell("2 canary req/min (20 req/min)", "no difference", low, "null"),
        Cell(
            "2 canary req/min (20 req/min)", "5xx +margin",
            replace(low, error_delta=ERROR_MARGIN), "margin", metric="error_rate_5xx",
        ),
        Cell(
            "2 canary req/min (20 req/min)", "latency +margin",
            replace(low, latency_delta_ms=LATENCY_MARGIN), "margin", metric="model_latency_ms",
        ),
        Cell("p0 0.02%", "no difference", replace(base, error_rate=0.0002), "null"),
        Cell(
            "p0 0.02%", "5xx +margin", replace(base, error_rate=0.0002, error_delta=ERROR_MARGIN),
            "margin", metric="error_rate_5xx",
        ),
        Cell(
            "p0 50% (no 5xx limit)", "no difference", replace(base, error_rate=0.5), "null",
            {"max_error_rate": 1.0},
        ),
        Cell(
            "p0 50% (no 5xx limit)", "5xx +margin",
            replace(base, error_rate=0.5, error_delta=ERROR_MARGIN), "margin",
            {"max_error_rate": 1.0}, metric="error_rate_5xx",
        ),
    ]  # fmt: skip
    return out


# --------------------------------------------------------------------------- one rollout


@dataclass(frozen=True)
class Outcome:
    """How one rollout ended, and what Wald's SPRT did on the same canary data."""

    decision: str  # rollback, promote, or continue (undecided after MINUTES)
    minute: int  # minutes of data at the decision (MINUTES when undecided)
    canary_n: int  # canary requests at the decision (the metric that differs)
    cause: str  # the metrics whose verdict was rollback, comma-separated
    wald_n: int | None  # canary requests when Wald's SPRT stopped (None: did not)
    wald_matched_n: int | None = None  # the same at the judge's per-metric level
    compared_n: int = 0  # canary requests after the warm-up's minutes


# The judge's per-metric rollback level on the default request: alpha / 3 metrics, 90% of
# it for the regression test (a limit is set), 80% of that for the whole-rollout test.
MATCHED_ALPHA = ALPHA / 3 * 0.9 * 0.8


class _Wald:
    """Wald's SPRT on the canary's per-minute data, knowing the baseline and the effect.

    Two at once on the same data: at alpha = beta = 0.05, and with alpha matched to the
    judge's own per-metric level (beta 0.05).
    """

    def __init__(self, cell: Cell) -> None:
        t = cell.traffic
        self.kind = "proportion" if cell.metric.startswith("error") else "mean"
        self.p0 = t.error_rate
        self.p1 = t.error_rate + t.error_delta
        self.theta = t.latency_delta_ms
        self.llr = 0.0
        self.n = 0
        self.bounds = {
            "wald": (math.log((1 - ALPHA) / ALPHA), math.log(ALPHA / (1 - ALPHA))),
            "matched": (
                math.log((1 - ALPHA) / MATCHED_ALPHA),
                math.log(ALPHA / (1 - MATCHED_ALPHA)),
            ),
        }
        self.stopped_at: dict[str, int] = {}

    @property
    def stopped(self) -> int | None:
        return self.stopped_at.get("wald")

    @property
    def done(self) -> bool:
        return len(self.stopped_at) == len(self.bounds)

    def add(self, count: int, errors: int, latency_sum: float) -> None:
        if self.done:
            return
        self.n += count
        if self.kind == "proportion":
            self.llr += errors * math.log(self.p1 / self.p0) + (count - errors) * math.log(
                (1 - self.p1) / (1 - self.p0)
            )
        else:
            shift = latency_sum - count * LATENCY_MEAN
            self.llr += (self.theta * shift - count * self.theta**2 / 2) / LATENCY_SD**2
        for name, (upper, lower) in self.bounds.items():
            if name not in self.stopped_at and not lower < self.llr < upper:
                self.stopped_at[name] = self.n


def rollout(cell: Cell, seed: int) -> Outcome:
    """One rollout of a cell: a look a minute until a decision or MINUTES."""
    settings = JudgeSettings(**cell.settings)
    bake = settings.bake_time_seconds / 60
    sim = FleetSimulator(cell.traffic, seed=seed)
    wald = _Wald(cell) if cell.check == "power" else None
    warmup = math.ceil(settings.warmup_seconds / 60)
    canary_n = compared_n = 0
    for minute in range(1, MINUTES + 1):
        sim.advance()
        canary = sim.last_canary
        assert canary is not None
        canary_n += canary.count
        compared_n += canary.count if minute > warmup else 0
        if wald is not None:
            wald.add(canary.count, canary.errors_5xx, float(canary.latencies_ms.sum()))
        response = evaluate(judge_request(sim.series, plan=PLAN, settings=settings))
        decision = response["decision"]
        if decision == "rollback" or (decision == "promote" and minute >= bake):
            if wald is not None:  # run Wald's SPRT to its own decision on the same data
                while not wald.done and sim.minute < MINUTES:
                    sim.advance()
                    c = sim.last_canary
                    assert c is not None
                    wald.add(c.count, c.errors_5xx, float(c.latencies_ms.sum()))
            causes = [m["name"] for m in response["metrics"] if m["decision"] == "rollback"]
            return Outcome(
                decision,
                minute,
                canary_n,
                ",".join(causes),
                wald.stopped if wald else None,
                wald.stopped_at.get("matched") if wald else None,
                compared_n,
            )
    return Outcome(
        "continue",
        MINUTES,
        canary_n,
        "",
        wald.stopped if wald else None,
        wald.stopped_at.get("matched") if wald else None,
        compared_n,
    )


def _chunk(args: tuple[Cell, int, list[int]]) -> tuple[int, list[Outcome]]:
    cell, index, seeds = args
    return index, [rollout(cell, seed) for seed in seeds]


# --------------------------------------------------------------------------- report


def _rate(outcomes: list[Outcome], decision: str) -> float:
    return sum(o.decision == decision for o in outcomes) / len(outcomes)


def _mean(values: Iterable[float]) -> float:
    values = list(values)
    return sum(values) / len(values) if values else math.nan


def _fmt(x: float, digits: int = 3) -> str:
    return "-" if math.isnan(x) else f"{x:.{digits}f}"


def summarise(cell: Cell, outcomes: list[Outcome]) -> dict[str, Any]:
    """The row's numbers and whether it meets its requirement."""
    rollback, promote = _rate(outcomes, "rollback"), _rate(outcomes, "promote")
    decided = [o.minute for o in outcomes if o.decision != "continue"]
    row: dict[str, Any] = {
        "rollback": rollback,
        "promote": promote,
        "undecided": _rate(outcomes, "continue"),
        "minutes": _mean(decided),
        "causes": sorted(
            {c for o in outcomes for c in o.cause.split(",") if c and o.decision == "rollback"}
        ),
    }
    if cell.check == "null":
        row["check"] = ("false rollback <= 0.05", rollback <= 0.05)
    elif cell.check == "margin":
        row["check"] = ("false promote <= 0.05", promote <= 0.05)
    elif cell.check == "power":
        caught = [o for o in outcomes if o.decision == "rollback" and o.minute <= MINUTES]
        judge_n = _mean(o.canary_n for o in caught)
        wald_n = _mean(float(o.wald_n) for o in outcomes if o.wald_n is not None)
        matched_n = _mean(float(o.wald_matched_n) for o in outcomes if o.wald_matched_n)
        row["judge_n"], row["wald_n"], row["matched_n"] = judge_n, wald_n, matched_n
        row["compared_n"] = _mean(o.compared_n for o in caught)
        row["check"] = ("rollback >= 0.9 within 120 min", rollback >= 0.9)
    elif cell.check == "contrast":
        row["check"] = ("(contrast: what warm-up buys)", True)
    else:  # leak: the canary is fine for 30 minutes, then 2 margins worse
        onset = cell.traffic.regression_from
        delays = sorted(o.minute - onset for o in outcomes if o.decision == "rollback")
        row["delay_median"] = delays[len(delays) // 2] if delays else math.nan
        row["delay_p90"] = delays[int(0.9 * (len(delays) - 1))] if delays else math.nan
        # Promoted at or before the onset: no regressed minute existed yet.
        row["shipped_regressed"] = sum(
            o.decision == "promote" and o.minute > onset for o in outcomes
        ) / len(outcomes)
        row["check"] = ("(reported)", True)
    return row


def table(results: list[tuple[Cell, dict[str, Any]]], runs: int) -> list[str]:
    head = (
        "| group | canary | runs | rollback | promote | undecided | mean minutes to decision "
        "| requirement | met |"
    )
    lines = [head, "| --- | --- | ---: | ---: | ---: | ---: | ---: | --- | --- |"]
    for cell, row in results:
        name, ok = row["check"]
        lines.append(
            f"| {cell.group} | {cell.label} | {runs:,} | {_fmt(row['rollback'])} | "
            f"{_fmt(row['promote'])} | {_fmt(row['undecided'])} | {_fmt(row['minutes'], 1)} | "
            f"{name} | {'yes' if ok else '**NO**'} |"
        )
    return lines


def details(results: list[tuple[Cell, dict[str, Any]]]) -> list[str]:
    lines = []
    for cell, row in results:
        if cell.check == "power":
            ratio = row["judge_n"] / row["wald_n"]
            lines.append(
                f"* {cell.group}, {cell.label}: the judge rolls back after {row['judge_n']:,.0f} "
                f"canary requests on average ({row['compared_n']:,.0f} after warm-up); Wald's "
                f"SPRT that knows the baseline and the effect stops after "
                f"{row['wald_n']:,.0f} at alpha = beta = 0.05 (ratio {ratio:.2f}) and after "
                f"{row['matched_n']:,.0f} at the judge's per-metric level {MATCHED_ALPHA:.4f} "
                f"(ratio {row['judge_n'] / row['matched_n']:.2f}; "
                f"{row['compared_n'] / row['matched_n']:.2f} counting requests after warm-up)."
            )
        if cell.check == "leak":
            lines.append(
                f"* {cell.group}, {cell.label}: rolled back in {row['rollback']:.3f} of "
                f"rollouts, {row['delay_median']} minutes after the onset (median; 90th "
                f"percentile {row['delay_p90']}); {row['promote']:.3f} ship at the first "
                f"promote verdict after the 30-minute bake, {row['shipped_regressed']:.3f} "
                "with regressed minutes in their data (the rest before the regression began)."
            )
        if cell.check == "null" and row["rollback"] > 0:
            lines.append(
                f"* {cell.group}, {cell.label}: false rollbacks came from "
                f"{', '.join(row['causes']) or '-'}."
            )
    return lines


def timing() -> float:
    """Milliseconds per evaluate() of a 120-minute per-minute request (3 metrics)."""
    sim = FleetSimulator(Traffic(client_error_rate=0.005), seed=1)
    for _ in range(MINUTES):
        sim.advance()
    request = judge_request(sim.series, plan=PLAN, settings=JudgeSettings())
    return best_seconds(lambda: evaluate(request), 20) * 1000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=DEFAULT_RUNS, help="rollouts per cell")
    ap.add_argument(
        "--only", default="", help="cells whose group or label contains this (a|b: either)"
    )
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--write", action="store_true", help="update docs/BENCHMARKS.md")
    args = ap.parse_args()
    wanted = args.only.lower().split("|")
    chosen = [
        (i, c)
        for i, c in enumerate(cells())
        if any(w in f"{c.group} {c.label}".lower() for w in wanted)
    ]
    started = time.time()
    per_chunk = 25
    jobs = [
        (cell, i, [SEED * 1_000 + i * 100_003 + r for r in range(s, min(s + per_chunk, args.runs))])
        for i, cell in chosen
        for s in range(0, args.runs, per_chunk)
    ]
    outcomes: dict[int, list[Outcome]] = {i: [] for i, _ in chosen}
    with ProcessPoolExecutor(max_workers=args.workers) as pool:
        for index, chunk in pool.map(_chunk, jobs):
            outcomes[index].extend(chunk)
            done = len(outcomes[index])
            if done == args.runs:
                cell = dict(chosen)[index]
                row = summarise(cell, outcomes[index])
                print(f"{cell.group} | {cell.label}: {row}", flush=True)
    results = [(cell, summarise(cell, outcomes[i])) for i, cell in chosen]
    ms = timing()
    elapsed = time.time() - started
    lines = table(results, args.runs) + [""] + details(results)
    lines += [
        "",
        f"`evaluate` on a 120-minute per-minute request (5xx, 4xx, latency; 1,000 req/min): "
        f"{ms:.1f} ms per call (best of 5 x 20).",
    ]
    print("\n".join(lines))
    print(f"elapsed {elapsed:.0f} s")
    if args.write:
        write_docs(lines, args.runs, elapsed)


def write_docs(lines: list[str], runs: int, elapsed: float) -> None:
    """Replace this benchmark's block in docs/BENCHMARKS.md; keep everything else."""
    write_block(
        "judge_realpath",
        SECTION,
        [
            "Command: `nice -n 10 python bench/judge_realpath.py --write"
            + ("" if runs == DEFAULT_RUNS else f" --runs {runs}")
            + "` "
            f"(seed {SEED}, {runs:,} rollouts per cell, {elapsed / 60:.0f} min on "
            f"{os.cpu_count()} cores, Python {platform.python_version()}, numpy "
            f"{np.__version__}).",
            "",
            "Blue/green canary, 10% canary share unless noted, Poisson traffic; 5xx p0 1%, 4xx "
            f"0%, latency log-normal (log-scale sd 1) with mean {LATENCY_MEAN:.0f} ms (sd "
            f"{LATENCY_SD:.1f} ms); default JudgeSettings: alpha 0.05 over 3 metrics, margins "
            "0.5 pp and 5 ms, 5xx limit 1%, latency limit 500 ms, warm-up 120 s, bake 600 s. "
            "A '+margin' canary is worse by exactly the margin in every minute (additive), so "
            "promoting it is a false promotion. Monte Carlo standard error of a rate near "
            f"0.05: {math.sqrt(0.05 * 0.95 / runs):.3f}.",
            "",
            *lines,
        ],
    )


if __name__ == "__main__":
    main()
