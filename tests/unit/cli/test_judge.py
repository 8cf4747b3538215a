"""`guardrails judge` on request files and CloudWatch exports; the export mapping itself."""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path

import pytest
from click.testing import CliRunner

from guardrails.cli import cli
from guardrails.cli.cloudwatch_export import ExportError, build_request
from guardrails.judge import evaluate

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "cli"
# The example request, shared with the judge tests and the benchmark.
REQUEST = FIXTURES.parent / "judge_request.json"
EXPORT = FIXTURES / "cloudwatch_export.json"
MAPPING = FIXTURES / "cloudwatch_mapping.json"


def run(*args: str, input: str | None = None):
    return CliRunner().invoke(cli, ["judge", *args], input=input)


def load(path: Path) -> dict:
    return json.loads(path.read_text())


def promote_request() -> dict:
    return {
        "metrics": [
            {
                "name": "error_rate",
                "kind": "proportion",
                "margin": 0.01,
                "baseline": {"events": 500, "trials": 100_000},
                "canary": {"events": 100, "trials": 20_000},
            }
        ]
    }


# --------------------------------------------------------------------------- the command


def test_a_rollback_prints_the_table_and_exits_1():
    result = run(str(REQUEST))
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert lines[0] == "Decision: ROLLBACK"
    assert lines[2].split() == [
        "metric", "decision", "estimate", "interval", "p-value", "canary", "n", "baseline", "n",
    ]  # fmt: skip
    error_rate = lines[3].split()
    assert error_rate[:3] == ["error_rate", "continue", "+0.009893"]
    assert error_rate[-2:] == ["612", "11,843"]
    assert lines[4].split()[:3] == ["latency_ms", "rollback", "+2.8"]
    assert "latency_ms: regression: canary - baseline = 2.8" in result.stdout


def test_json_prints_the_judges_response():
    result = run(str(REQUEST), "--json")
    assert result.exit_code == 1
    assert json.loads(result.stdout) == evaluate(load(REQUEST))


def test_stdin_and_a_promotion_exit_0():
    result = run("-", input=json.dumps(promote_request()))
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("Decision: PROMOTE")


def test_no_metrics_continues_and_says_why():
    result = run("-", input="{}")
    assert result.exit_code == 0
    assert result.stdout.splitlines() == [
        "Decision: CONTINUE",
        "",
        "no metrics yet: nothing to judge",
    ]


def test_a_cloudwatch_export_is_judged_through_the_mapping():
    result = run("--cloudwatch-export", str(EXPORT), "--mapping", str(MAPPING), "--json")
    assert result.exit_code == 1
    response = json.loads(result.stdout)
    assert response == evaluate(build_request(load(EXPORT), load(MAPPING)))
    error_rate = response["metrics"][0]
    assert (error_rate["n_canary"], error_rate["n_baseline"]) == (1250, 11240)


@pytest.mark.parametrize(
    ("args", "stdin", "error"),
    [
        ([], None, "Error: FILE: give a judge request FILE or --cloudwatch-export with --mapping"),
        ([str(REQUEST), "--cloudwatch-export", str(EXPORT)], None,
         "Error: FILE: give a judge request FILE or --cloudwatch-export with --mapping"),
        (["--cloudwatch-export", str(EXPORT)], None,
         "Error: --mapping: required with --cloudwatch-export"),
        ([str(REQUEST), "--mapping", str(MAPPING)], None,
         "Error: --mapping: only with --cloudwatch-export"),
        (["-"], '{"metrics": [',
         "Error: stdin: not valid JSON (line 1 column 14: Expecting value)"),
        (["-"], '{"metrics": [{"name": "e", "kind": "proportion", "margin": 0.01, '
                '"canary": {"events": 9, "trials": 5}}]}',
         "Error: metrics[0].canary.trials: must be >= events (9 > 5) (metric 'e')"),
        (["-"], "[1, 2]", "Error: request: must be an object, got list"),
        (["--cloudwatch-export", "-", "--mapping", str(MAPPING)], '{"Messages": []}',
         "Error: export.MetricDataResults: missing (not a get-metric-data output)"),
    ],
)  # fmt: skip
def test_malformed_input_is_one_line_and_exit_2(args, stdin, error):
    result = run(*args, input=stdin)
    assert result.exit_code == 2
    assert result.stderr.strip() == error


# --------------------------------------------------------------------------- export -> request

T1, T2, T3 = "2026-11-20T10:01:00+00:00", "2026-11-20T10:02:00+00:00", "2026-11-20T10:03:00Z"


def test_counts_are_per_period_and_subtract_the_new_fleet():
    request = build_request(load(EXPORT), load(MAPPING))
    error_rate = request["metrics"][0]
    assert len(error_rate["minutes"]) == 5
    # 10:01, the oldest period: aggregate 2492 requests and 11 errors, new fleet 249 and 5.
    assert error_rate["minutes"][0] == {
        "baseline": {"events": 6, "trials": 2243},
        "canary": {"events": 5, "trials": 249},
    }
    assert sum(m["canary"]["trials"] for m in error_rate["minutes"]) == 1250
    assert {k: error_rate[k] for k in ("name", "kind", "margin", "limit")} == {
        "name": "error_rate", "kind": "proportion", "margin": 0.005, "limit": 0.01,
    }  # fmt: skip
    assert (request["alpha"], request["min_samples"]) == (0.05, 100)


def test_mean_periods_carry_count_sum_and_shape_scaled():
    request = build_request(load(EXPORT), load(MAPPING))
    first = request["metrics"][1]["minutes"][0]["canary"]  # 10:01
    assert first == {
        "count": 249, "sum": pytest.approx(249 * 44.2), "min": pytest.approx(2.48),
        "max": pytest.approx(620.0), "p50": pytest.approx(26.8), "p90": pytest.approx(96.4),
        "p99": pytest.approx(270.0),
    }  # fmt: skip
    assert "scale" not in request["metrics"][1]


def test_a_sum_series_instead_of_averages():
    export = {
        "MetricDataResults": [
            {"Id": "n", "Timestamps": [T1, T2], "Values": [100, 300]},
            {"Id": "s", "Timestamps": [T1, T2], "Values": [4000, 12600]},
        ]
    }
    arm = {"samples": "n", "sum": "s"}
    mapping = {"metrics": [{"name": "latency_ms", "kind": "mean", "margin": 5,
                            "baseline": arm, "canary": arm}]}  # fmt: skip
    minutes = build_request(export, mapping)["metrics"][0]["minutes"]
    assert [m["canary"] for m in minutes] == [{"count": 100, "sum": 4000.0},
                                              {"count": 300, "sum": 12600.0}]  # fmt: skip


def test_a_fixed_std_makes_the_metric_cumulative_as_before():
    export = {
        "MetricDataResults": [
            {"Id": "n", "Timestamps": [T1, T2, T3], "Values": [100, 300, 0]},
            {"Id": "avg", "Timestamps": [T3, T2, T1], "Values": [999_000, 42_000, 40_000]},
        ]
    }
    arm = {"samples": "n", "average": "avg"}
    mapping = {"metrics": [{"name": "latency_ms", "kind": "mean", "margin": 5, "scale": 0.001,
                            "baseline": arm, "canary": {**arm, "std": 7}}]}  # fmt: skip
    metric = build_request(export, mapping)["metrics"][0]
    mean = (100 * 40 + 300 * 42) / 400  # the period without samples does not count
    assert metric["baseline"]["n"] == 400
    assert metric["baseline"]["mean"] == pytest.approx(mean)
    spread = (100 * (40 - mean) ** 2 + 300 * (42 - mean) ** 2) / (2 - 1)
    assert metric["baseline"]["std"] == pytest.approx(math.sqrt(spread))
    assert metric["canary"]["std"] == 7
    assert "minutes" not in metric


def test_an_arm_without_samples_is_no_data_for_the_judge():
    export = {
        "MetricDataResults": [
            {"Id": "n", "Timestamps": [T1], "Values": [0]},
            {"Id": "avg", "Timestamps": [T1], "Values": [5.0]},
        ]
    }
    arm = {"samples": "n", "average": "avg"}
    mapping = {
        "metrics": [{"name": "m", "kind": "mean", "margin": 1, "baseline": arm, "canary": arm}]
    }
    request = build_request(export, mapping)
    assert request["metrics"][0]["minutes"] == [{"baseline": None, "canary": None}]
    assert evaluate(request)["decision"] == "continue"


def test_paginated_exports_are_joined():
    pages = [
        {"MetricDataResults": [{"Id": "e", "Timestamps": [T1], "Values": [1]},
                               {"Id": "t", "Timestamps": [T1], "Values": [100]}]},
        {"MetricDataResults": [{"Id": "e", "Timestamps": [T2], "Values": [2]},
                               {"Id": "t", "Timestamps": [T2], "Values": [200]}]},
    ]  # fmt: skip
    arm = {"events": "e", "trials": "t"}
    mapping = {
        "metrics": [
            {"name": "m", "kind": "proportion", "margin": 0.01, "baseline": arm, "canary": arm}
        ]
    }
    minutes = build_request(pages, mapping)["metrics"][0]["minutes"]
    assert [m["canary"] for m in minutes] == [{"events": 1, "trials": 100},
                                              {"events": 2, "trials": 200}]  # fmt: skip


def _broken(path: str, value: object) -> dict:
    """The fixture mapping with one field (dotted path, list indexes as digits) replaced."""
    mapping = copy.deepcopy(load(MAPPING))
    *parents, last = path.split(".")
    node = mapping
    for key in parents:
        node = node[int(key)] if key.isdigit() else node[key]
    if value is None:
        del node[last]
    else:
        node[last] = value
    return mapping


@pytest.mark.parametrize(
    ("path", "value", "error"),
    [
        ("metrics", [], "mapping.metrics: must be a non-empty list"),
        ("metrics.0.kind", "ratio",
         "mapping.metrics[0].kind: must be proportion or mean (got 'ratio')"),
        ("metrics.0.colour", "red", "mapping.metrics[0].colour: unknown field"),
        ("metrics.0.canary.trials", "nope",
         "mapping.metrics[0].canary.trials: no series 'nope' in the export (Ids: all_5xx, "),
        ("metrics.0.canary.events", None, "mapping.metrics[0].canary.events: missing"),
        ("metrics.0.canary.events", "all_invocations",
         "mapping.metrics[0].canary.events: 2492 is more than trials 249 at "
         "2026-11-20T10:01:00+00:00"),
        ("metrics.0.baseline.events", ["canary_5xx", "-all_5xx"],
         "mapping.metrics[0].baseline.events: comes to -6 at 2026-11-20T10:01:00+00:00, below 0"),
        ("metrics.0.scale", 2, "mapping.metrics[0].scale: only for means"),
        ("metrics.1.scale", 0, "mapping.metrics[1].scale: must be a number above 0 (got 0)"),
        ("metrics.1.baseline.average", None,
         "mapping.metrics[1].baseline.average: give average or sum"),
        ("metrics.1.baseline.sum", "baseline_latency_avg",
         "mapping.metrics[1].baseline.average: give average or sum (one of them)"),
        ("metrics.1.baseline.max", None,
         "mapping.metrics[1].baseline.max: give min and max together"),
        ("metrics.1.baseline.std", -1, "mapping.metrics[1].baseline.std: must be a number >= 0"),
        ("metrics.1.canary", "x", "mapping.metrics[1].canary: must be an object naming query Ids"),
    ],
)  # fmt: skip
def test_mapping_errors_name_the_field(path, value, error):
    with pytest.raises(ExportError) as raised:
        build_request(load(EXPORT), _broken(path, value))
    assert str(raised.value).startswith(error)


@pytest.mark.parametrize(
    ("export", "error"),
    [
        ({"MetricDataResults": [{"Timestamps": [], "Values": []}]},
         "export.MetricDataResults[0].Id: missing"),
        ({"MetricDataResults": [{"Id": "a", "Timestamps": [T1], "Values": []}]},
         "export.MetricDataResults[0]: 1 Timestamps but 0 Values"),
        ({"MetricDataResults": [{"Id": "a", "Timestamps": [T1], "Values": ["x"]}]},
         "export.MetricDataResults[0].Values[0]: not a number ('x')"),
        ({"MetricDataResults": [{"Id": "a", "Timestamps": ["t"], "Values": [1]}]},
         "export.MetricDataResults[0].Timestamps[0]: not an ISO 8601 time ('t')"),
        ({"MetricDataResults": [{"Id": "a", "Timestamps": ["2026-11-20T10:01:00"], "Values": [1]}]},
         "export.MetricDataResults[0].Timestamps[0]: needs a time zone, as CloudWatch gives "
         "('2026-11-20T10:01:00')"),
        ({"MetricDataResults": [{"Id": "a", "Timestamps": [T1], "Values": [1.5]}]},
         "mapping.metrics[0].baseline.events: 1.5 at 2026-11-20T10:01:00+00:00 is not a whole "
         "count (use the Sum statistic)"),
    ],
)  # fmt: skip
def test_export_errors_name_the_field(export, error):
    arm = {"events": "a", "trials": "a"}
    mapping = {
        "metrics": [
            {"name": "m", "kind": "proportion", "margin": 0.01, "baseline": arm, "canary": arm}
        ]
    }
    with pytest.raises(ExportError) as raised:
        build_request(export, mapping)
    assert str(raised.value) == error


def test_one_period_is_not_enough_to_estimate_a_fixed_form_std():
    export = {"MetricDataResults": [{"Id": "n", "Timestamps": [T1], "Values": [10]},
                                    {"Id": "avg", "Timestamps": [T1], "Values": [3]}]}  # fmt: skip
    arm = {"samples": "n", "average": "avg"}
    mapping = {"metrics": [{"name": "m", "kind": "mean", "margin": 1,
                            "baseline": arm, "canary": {**arm, "std": 1}}]}  # fmt: skip
    with pytest.raises(ExportError, match=r"^mapping.metrics\[0\].baseline.std: one period"):
        build_request(export, mapping)
    # Per period, one period is no error: the judge waits for a spread.
    mapping["metrics"][0]["canary"] = arm
    response = evaluate(build_request(export, mapping))
    assert response["decision"] == "continue"
    assert "no spread yet" in response["metrics"][0]["reason"]


def test_a_malformed_per_period_request_is_one_line_and_exit_2():
    export = {"MetricDataResults": [{"Id": "n", "Timestamps": [T1], "Values": [10]},
                                    {"Id": "avg", "Timestamps": [T1], "Values": [3]},
                                    {"Id": "lo", "Timestamps": [T1], "Values": [5]},
                                    {"Id": "hi", "Timestamps": [T1], "Values": [4]}]}  # fmt: skip
    arm = {"samples": "n", "average": "avg", "min": "lo", "max": "hi"}
    mapping = {"metrics": [{"name": "m", "kind": "mean", "margin": 1,
                            "baseline": arm, "canary": arm}]}  # fmt: skip
    with CliRunner().isolated_filesystem():
        Path("export.json").write_text(json.dumps(export))
        Path("mapping.json").write_text(json.dumps(mapping))
        result = CliRunner().invoke(
            cli, ["judge", "--cloudwatch-export", "export.json", "--mapping", "mapping.json"]
        )
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        "Error: metrics[0].minutes[0].baseline.min: must be <= max (5 > 4) (metric 'm')"
    )
