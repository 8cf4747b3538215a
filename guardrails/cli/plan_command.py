"""`guardrails plan`: how many requests and minutes a canary needs to catch a regression."""

from __future__ import annotations

from dataclasses import asdict, replace

import click

from guardrails.cli import render
from guardrails.cli.config import load_environment
from guardrails.cli.errors import EXIT_FAILED, InputError
from guardrails.cli.output import json_option, print_json
from guardrails.cli.planning import (
    FixedHorizon,
    MetricSpec,
    PlanError,
    Traffic,
    bake_warnings,
    fixed_horizon,
    judge_scenario,
    mean_metric,
    planned_traffic,
    rate_metric,
)
from guardrails.config import EnvironmentConfig, JudgeSettings
from guardrails.judge.simulation import Summary, simulate


@click.command()
@click.option("--baseline-rate", type=float, help="Baseline error rate, e.g. 0.01 for 1%.")
@click.option("--baseline-mean", type=float, help="Baseline mean (e.g. latency in ms).")
@click.option("--baseline-std", type=float, help="Per-request standard deviation of the mean.")
@click.option(
    "--margin",
    type=float,
    help="Regression to catch, absolute, in the metric's unit (default with --env: "
    "judge.error_rate_margin for a rate, judge.latency_margin_ms for a mean).",
)
@click.option(
    "--rps",
    type=float,
    help="Requests per second to the endpoint (default with --env: its planned traffic, "
    "traffic.expected_requests_per_minute or else the autoscaling set point, plus the "
    "test data it replays, traffic.replay_requests_per_minute).",
)
@click.option(
    "--canary-share",
    type=float,
    help="Percent of traffic the new model gets while it bakes, 1-99 (default: the "
    "environment's strategy, else 10).",
)
@click.option("--alpha", type=float, help="False-alarm rate (default: judge.alpha, else 0.05).")
@click.option("--power", type=float, default=0.8, show_default=True, help="Fixed-horizon power.")
@click.option(
    "--env", "env_name", help="Take judge settings and traffic split from this environment."
)
@click.option(
    "--runs",
    type=click.IntRange(min=0),
    default=200,
    show_default=True,
    help="Simulated rollouts for the judge's numbers (0 skips them).",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Simulation seed.")
@click.option("--strict", is_flag=True, help="Exit 1 when a warning is printed.")
@json_option
@click.pass_context
def plan(
    ctx: click.Context,
    baseline_rate: float | None,
    baseline_mean: float | None,
    baseline_std: float | None,
    margin: float | None,
    rps: float | None,
    canary_share: float | None,
    alpha: float | None,
    power: float,
    env_name: str | None,
    runs: int,
    seed: int,
    strict: bool,
    as_json: bool,
) -> None:
    """Samples and minutes to catch a regression of --margin: fixed horizon and our judge.

    Give the baseline as --baseline-rate (an error rate) or --baseline-mean with
    --baseline-std. The fixed-horizon numbers use the two-sided sample-size formula
    n = (z_{alpha/2} + z_power)^2 (sigma_a^2 + sigma_b^2) / margin^2; the judge's come from
    simulating it at this traffic, one look per judge interval.
    """
    env = load_environment(ctx.obj.config_path, env_name) if env_name else None
    try:
        metric = _metric(env, baseline_rate, baseline_mean, baseline_std, margin)
        traffic = planned_traffic(env, rps, canary_share)
        judge = _judge_settings(env, alpha)
        fixed = fixed_horizon(metric, traffic, alpha=judge.alpha, power=power)
    except PlanError as error:
        raise InputError(str(error)) from None

    catch = promote = None
    if runs:
        scenario = judge_scenario(metric, traffic, judge)
        catch = simulate(scenario, metric.margin, runs, seed)
        promote = simulate(scenario, 0.0, runs, seed + 1)

    warnings = bake_warnings(env, fixed, catch, promote) if env else []
    if as_json:
        print_json(
            {
                "environment": env.name if env else None,
                "metric": {**asdict(metric), "label": metric.label},
                "traffic": {**asdict(traffic), "canary_share": traffic.canary_share},
                "judge": asdict(judge),
                "power": power,
                "fixed_horizon": asdict(fixed),
                "simulation": {
                    "runs": runs,
                    "seed": seed,
                    "catch_margin": asdict(catch) if catch else None,
                    "promote_equal": asdict(promote) if promote else None,
                },
                "warnings": warnings,
            }
        )
    else:
        click.echo(_report(metric, traffic, judge, power, fixed, catch, promote))
        for warning in warnings:
            click.echo(f"Warning: {warning}", err=True)
    if warnings and strict:
        ctx.exit(EXIT_FAILED)


def _metric(
    env: EnvironmentConfig | None,
    rate: float | None,
    mean: float | None,
    std: float | None,
    margin: float | None,
) -> MetricSpec:
    if rate is not None and (mean is not None or std is not None):
        raise PlanError("--baseline-rate: give either a rate or --baseline-mean/--baseline-std")
    if rate is None and (mean is None or std is None):
        raise PlanError(
            "--baseline-rate: give an error rate, or --baseline-mean with --baseline-std"
        )
    if margin is None and env is not None:
        margin = env.judge.error_rate_margin if rate is not None else env.judge.latency_margin_ms
    if margin is None:
        raise PlanError("--margin: required (the regression to catch), or give --env")
    if rate is not None:
        return rate_metric(rate, margin)
    assert mean is not None and std is not None
    return mean_metric(mean, std, margin)


def _judge_settings(env: EnvironmentConfig | None, alpha: float | None) -> JudgeSettings:
    judge = env.judge if env else JudgeSettings()
    if alpha is None:
        return judge
    if not 0 < alpha <= 0.5:
        raise PlanError(f"--alpha: must be above 0 and at most 0.5 (got {alpha:g})")
    return replace(judge, alpha=alpha)


def _report(
    metric: MetricSpec,
    traffic: Traffic,
    judge: JudgeSettings,
    power: float,
    fixed: FixedHorizon,
    catch: Summary | None,
    promote: Summary | None,
) -> str:
    header = (
        f"Plan: {metric.label} (margin {metric.margin:g})\n"
        f"Traffic: {render.number(traffic.canary_rps)} req/s canary, "
        f"{render.number(traffic.baseline_rps)} req/s baseline; {traffic.description}\n"
        f"alpha {judge.alpha:g}, power {power:g}; the judge looks every "
        f"{judge.interval_seconds} s and gives up after "
        f"{render.minutes(judge.max_bake_time_seconds)}"
    )
    rows = [
        [
            "Fixed horizon, 1:1 split (per arm)",
            render.count(fixed.per_arm_equal),
            render.count(fixed.per_arm_equal),
            render.minutes(fixed.seconds_equal),
        ],
        [
            "Fixed horizon at this split",
            render.count(fixed.canary_n),
            render.count(fixed.baseline_n),
            render.minutes(fixed.seconds),
        ],
    ]
    lines = []
    for label, summary in (("to catch the margin", catch), ("to promote an equal model", promote)):
        if summary is None:
            continue
        rows.append(
            _judge_row(f"Judge {label}: mean", summary.mean_canary_n, traffic, summary.mean_seconds)
        )
        at_limit = summary.undecided_rate >= 0.05
        rows.append(
            _judge_row(
                f"Judge {label}: worst (p95)",
                summary.p95_canary_n,
                traffic,
                summary.p95_seconds,
                at_limit=at_limit,
            )
        )
    if catch is not None and promote is not None:
        lines.append(
            f"Judge over {catch.runs} simulated rollouts each:\n"
            f"  a regression of the margin is rolled back in {render.percent(catch.rollback_rate)}"
            f" (undecided at the limit {render.percent(catch.undecided_rate)})\n"
            f"  a model as good as the baseline is promoted in "
            f"{render.percent(promote.promote_rate)}, rolled back in "
            f"{render.percent(promote.rollback_rate)}"
        )
    body = render.table(["", "canary n", "baseline n", "time"], rows, right=(1, 2, 3))
    return "\n\n".join([header, body, *lines])


def _judge_row(
    label: str, canary_n: float, traffic: Traffic, seconds: float, *, at_limit: bool = False
) -> list[str]:
    prefix = ">= " if at_limit else ""
    return [
        label,
        prefix + render.count(canary_n),
        prefix + render.count(canary_n * traffic.ratio),
        prefix + render.minutes(seconds),
    ]
