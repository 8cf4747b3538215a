"""`guardrails simulate`: Monte Carlo of one environment's guardrail on its error-rate metric."""

from __future__ import annotations

import sys
from dataclasses import asdict
from pathlib import Path

import click

from guardrails.cli import render
from guardrails.cli.config import load_environment
from guardrails.cli.errors import InputError
from guardrails.cli.output import json_option, print_json
from guardrails.cli.planning import (
    PlanError,
    judge_scenario,
    planned_traffic,
    rate_metric,
)
from guardrails.judge.simulation import Outcome, Summary, outcomes, summarize

DEFAULT_EFFECTS = "0,0.25,0.5,0.75,1,1.5,2,3"


@click.command()
@click.option("--env", "env_name", required=True, help="Environment whose guardrail to simulate.")
@click.option("--runs", type=click.IntRange(min=1), default=200, show_default=True,
              help="Simulated rollouts per point.")  # fmt: skip
@click.option("--seed", type=int, default=0, show_default=True)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="PNG to write (default: guardrails-simulate-ENV.png).",
)
@click.option(
    "--rps",
    type=float,
    help="Requests per second (default: what plan and the synth-time check plan for: "
    "traffic.expected_requests_per_minute, else the autoscaling set point, plus the test data "
    "it replays, traffic.replay_requests_per_minute).",
)
@click.option(
    "--baseline-rate",
    type=float,
    help="Error rate of the serving model (default: half of judge.max_error_rate).",
)
@click.option("--canary-share", type=float, help="Canary percent, 1-99 (default: the strategy's).")
@click.option(
    "--effects",
    default=DEFAULT_EFFECTS,
    show_default=True,
    help="True regressions to simulate, in multiples of judge.error_rate_margin.",
)
@json_option
@click.pass_context
def simulate(
    ctx: click.Context,
    env_name: str,
    runs: int,
    seed: int,
    out: Path | None,
    rps: float | None,
    baseline_rate: float | None,
    canary_share: float | None,
    effects: str,
    as_json: bool,
) -> None:
    """False rollback rate, power and time to decision across true regressions; writes a PNG.

    Each run replays a rollout of ENV: the judge (its alpha, min_samples, interval and max bake
    time) looks once per interval at the error rate of canary and baseline until it decides.
    """
    env = load_environment(ctx.obj.config_path, env_name)
    judge = env.judge
    try:
        multiples = _effects(effects)
        rate = baseline_rate if baseline_rate is not None else judge.max_error_rate / 2
        metric = rate_metric(rate, judge.error_rate_margin)
        traffic = planned_traffic(env, rps, canary_share)
        if rate + max(multiples) * metric.margin >= 1:
            raise PlanError("--effects: the largest regression takes the error rate to 1 or above")
    except PlanError as error:
        raise InputError(str(error)) from None
    path = out or Path(f"guardrails-simulate-{env.name}.png")
    scenario = judge_scenario(metric, traffic, judge)

    summaries: list[Summary] = []
    with click.progressbar(
        length=len(multiples) * runs,
        label="Simulating rollouts",
        file=sys.stderr,
        hidden=as_json,  # under --json, stderr carries only an error document
    ) as bar:
        for index, multiple in enumerate(multiples):
            delta = multiple * metric.margin
            results: list[Outcome] = []
            for outcome in outcomes(scenario, delta, runs, seed + index):
                results.append(outcome)
                bar.update(1)
            summaries.append(summarize(scenario, delta, results))

    from guardrails.cli.plot import plot_operating_characteristics

    title = (
        f"{env.name}: error rate {rate:g}, margin {metric.margin:g}, alpha {judge.alpha:g}, "
        f"{render.number(traffic.canary_rps)} req/s canary ({traffic.description}), {runs} runs"
    )
    try:
        plot_operating_characteristics(
            summaries,
            path=path,
            title=title,
            margin=metric.margin,
            alpha=judge.alpha,
            bake_seconds=judge.bake_time_seconds,
            max_bake_seconds=judge.max_bake_time_seconds,
        )
    except OSError as error:
        raise InputError(f"--out: cannot write {path} ({error.strerror})") from None

    if as_json:
        print_json(
            {
                "environment": env.name,
                "baseline_rate": rate,
                "margin": metric.margin,
                "judge": asdict(judge),
                "traffic": {
                    "rps": traffic.canary_rps + traffic.baseline_rps,
                    "replayed_rps": traffic.replayed_rps,
                    "canary_rps": traffic.canary_rps,
                    "baseline_rps": traffic.baseline_rps,
                    "description": traffic.description,
                    "canary_per_look": scenario.canary_per_look,
                    "baseline_per_look": scenario.baseline_per_look,
                },
                "runs": runs,
                "seed": seed,
                "results": [
                    {**asdict(s), "margins": s.true_delta / metric.margin} for s in summaries
                ],
                "plot": str(path),
            }
        )
        return
    rows = [
        [
            f"{s.true_delta:+.4g}",
            f"{s.true_delta / metric.margin:g}",
            render.percent(s.rollback_rate),
            render.percent(s.promote_rate),
            render.percent(s.undecided_rate),
            render.minutes(s.mean_seconds),
            render.minutes(s.p95_seconds),
        ]
        for s in summaries
    ]
    headers = [
        "regression",
        "x margin",
        "rollback",
        "promote",
        "undecided",
        "mean time",
        "p95 time",
    ]
    click.echo(
        f"Guardrail of {env.name}: error rate {rate:g} baseline, margin {metric.margin:g}, "
        f"alpha {judge.alpha:g}, min_samples {judge.min_samples}\n"
        f"Traffic {render.number(traffic.canary_rps + traffic.baseline_rps)} req/s, "
        f"{traffic.description}: "
        f"{scenario.canary_per_look:,} canary and {scenario.baseline_per_look:,} baseline "
        f"requests per {judge.interval_seconds} s look; undecided after "
        f"{render.minutes(judge.max_bake_time_seconds)} (then rolled back)\n"
        f"{runs} simulated rollouts per row, seed {seed}\n"
    )
    click.echo(render.table(headers, rows, right=(0, 1, 2, 3, 4, 5, 6)))
    no_regression = next((s for s in summaries if s.true_delta == 0), None)
    at_margin = next((s for s in summaries if s.true_delta == metric.margin), None)
    click.echo("")
    if no_regression is not None:
        click.echo(
            f"False rollback rate (no regression): {render.percent(no_regression.rollback_rate)}"
            f" (alpha {judge.alpha:g})"
        )
    if at_margin is not None:
        click.echo(
            f"Power at the margin (+{metric.margin:g}): {render.percent(at_margin.rollback_rate)}"
            f" rolled back, mean {render.minutes(at_margin.mean_seconds)}"
        )
    click.echo(f"Plot: {path}")


def _effects(text: str) -> list[float]:
    try:
        values = [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise PlanError(f"--effects: comma-separated numbers, e.g. {DEFAULT_EFFECTS}") from None
    if not values or any(v < 0 or v != v for v in values):
        raise PlanError(f"--effects: comma-separated numbers >= 0, e.g. {DEFAULT_EFFECTS}")
    return sorted(set(values))

