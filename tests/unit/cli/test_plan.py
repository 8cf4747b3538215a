"""`guardrails plan` end to end: output, exit codes, warnings and bad inputs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from guardrails.cli import cli

CDK_JSON = Path(__file__).resolve().parents[2] / "fixtures" / "cli" / "cdk.json"


def run(*args: str):
    return CliRunner().invoke(cli, ["--config", str(CDK_JSON), "plan", *args])


def row(output: str, label: str) -> list[str]:
    line = next(line for line in output.splitlines() if line.startswith(label))
    return line[len(label) :].split()


def test_the_seeds_example_through_plan_gives_63_per_group():
    result = run(
        "--baseline-mean", "0.5", "--baseline-std", "0.02", "--margin", "0.01",
        "--rps", "10", "--canary-share", "50", "--runs", "0",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert row(result.stdout, "Fixed horizon, 1:1 split (per arm)") == ["63", "63", "0.2", "min"]
    assert row(result.stdout, "Fixed horizon at this split") == ["63", "63", "0.2", "min"]
    assert "Judge " not in result.stdout


def test_an_error_rate_plan_reports_the_judge_and_its_rates():
    result = run(
        "--baseline-rate", "0.01", "--margin", "0.005", "--rps", "25",
        "--canary-share", "10", "--runs", "30",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert out.startswith("Plan: error rate 0.01 -> 0.015 (margin 0.005)\n")
    assert "Traffic: 2.5 req/s canary, 22.5 req/s baseline; canary 10%" in out
    # The seed's formula at 1:1, then the canary arm at 9 baseline requests per canary request.
    assert row(out, "Fixed horizon, 1:1 split (per arm)")[:2] == ["7,747", "7,747"]
    canary, baseline, minutes, _ = row(out, "Fixed horizon at this split")
    assert int(baseline.replace(",", "")) == 9 * int(canary.replace(",", ""))
    assert float(minutes) == pytest.approx(int(canary.replace(",", "")) / 2.5 / 60, abs=0.05)
    for label in (
        "Judge to catch the margin: mean",
        "Judge to promote an equal model: worst (p95)",
    ):
        assert len(row(out, label)) == 4
    assert "Judge over 30 simulated rollouts each:" in out
    assert "a regression of the margin is rolled back in" in out


def test_env_supplies_margin_traffic_and_split_and_warns_on_short_bake():
    result = run("--env", "staging", "--baseline-rate", "0.01", "--runs", "20")
    assert result.exit_code == 0, result.output
    assert "(margin 0.005)" in result.stdout
    assert "Traffic: 2.5 req/s canary, 22.5 req/s baseline; canary at 10%" in result.stdout
    warnings = result.stderr.strip().splitlines()
    assert warnings[0].startswith(
        "Warning: environments.staging.judge.bake_time_seconds: 10.0 min is shorter than the "
    )
    assert "a fixed-horizon test needs to detect the margin" in warnings[0]


def test_strict_turns_warnings_into_exit_1():
    result = run("--env", "staging", "--baseline-rate", "0.01", "--runs", "0", "--strict")
    assert result.exit_code == 1
    assert "Warning: environments.staging.judge.bake_time_seconds" in result.stderr


def test_no_warning_when_the_bake_time_is_long_enough():
    result = run(
        "--env", "prod", "--baseline-mean", "40", "--baseline-std", "10",
        "--rps", "100", "--runs", "20", "--strict",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    assert "(margin 5)" in result.stdout  # judge.latency_margin_ms


def test_alpha_and_power_change_the_fixed_horizon():
    base = ["--baseline-mean", "0", "--baseline-std", "1", "--margin", "0.5", "--rps", "10"]
    default = run(*base, "--runs", "0")
    strict = run(*base, "--runs", "0", "--alpha", "0.01", "--power", "0.9")
    label = "Fixed horizon, 1:1 split (per arm)"
    assert row(default.stdout, label)[0] == "63"
    assert int(row(strict.stdout, label)[0]) > 63


@pytest.mark.parametrize(
    ("args", "error"),
    [
        ([], "Error: --baseline-rate: give an error rate, or --baseline-mean with --baseline-std"),
        (["--baseline-rate", "0.01", "--baseline-mean", "3", "--margin", "0.01", "--rps", "1"],
         "Error: --baseline-rate: give either a rate or --baseline-mean/--baseline-std"),
        (["--baseline-rate", "0.01", "--rps", "1"],
         "Error: --margin: required (the regression to catch), or give --env"),
        (["--baseline-rate", "0.01", "--margin", "0.01"],
         "Error: --rps: required (requests per second), or give --env"),
        (["--baseline-rate", "1.5", "--margin", "0.01", "--rps", "1"],
         "Error: --baseline-rate: must be between 0 and 1 (got 1.5)"),
        (["--baseline-rate", "0.01", "--margin", "0.01", "--rps", "-3"],
         "Error: --rps: must be above 0 (got -3)"),
        (["--baseline-rate", "0.01", "--margin", "0.01", "--rps", "3", "--canary-share", "0.1"],
         "Error: --canary-share: a percent from 1 to 99, e.g. 10 for 10% (got 0.1)"),
        (["--baseline-rate", "0.01", "--margin", "0.01", "--rps", "3", "--alpha", "0.7"],
         "Error: --alpha: must be above 0 and at most 0.5 (got 0.7)"),
        (["--baseline-rate", "0.01", "--margin", "0.01", "--rps", "3", "--power", "1"],
         "Error: --power: must be between 0 and 1 (got 1)"),
        (["--baseline-rate", "0.01", "--env", "dev"],
         "Error: --canary-share: environments.dev.deployment.strategy is all_at_once, which "
         "sends all traffic to the new model at once; give the share to plan for"),
        (["--baseline-rate", "0.01", "--env", "qa"],
         "Error: env: unknown environment 'qa' (known: dev, staging, prod)"),
    ],
)  # fmt: skip
def test_bad_inputs_are_one_line_and_exit_2(args, error):
    result = run(*args)
    assert result.exit_code == 2
    assert result.stderr.strip() == error
    assert result.stdout == ""


def test_a_non_number_is_clicks_usage_error():
    result = run("--baseline-rate", "lots")
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines()[-1] == (
        "Error: Invalid value for '--baseline-rate': 'lots' is not a valid float."
    )


def test_json_carries_the_same_numbers_and_the_warnings():
    args = ("--env", "staging", "--baseline-rate", "0.01", "--runs", "20")
    text = run(*args)
    result = run(*args, "--json")
    assert result.exit_code == 0, result.output
    assert result.stderr == ""  # the warnings are in the document
    plan = json.loads(result.stdout)
    fixed = plan["fixed_horizon"]
    canary, baseline, _, _ = row(text.stdout, "Fixed horizon at this split")
    assert (f"{fixed['canary_n']:,}", f"{fixed['baseline_n']:,}") == (canary, baseline)
    assert plan["traffic"]["canary_share"] == pytest.approx(0.1)
    assert plan["metric"]["margin"] == 0.005 and plan["judge"]["alpha"] == 0.05
    assert plan["simulation"]["catch_margin"]["runs"] == 20
    assert [f"Warning: {w}" for w in plan["warnings"]] == text.stderr.strip().splitlines()


def test_json_with_strict_exits_1_on_a_warning():
    result = run("--env", "staging", "--baseline-rate", "0.01", "--runs", "0", "--strict", "--json")
    assert result.exit_code == 1
    assert json.loads(result.stdout)["warnings"]
    assert json.loads(result.stdout)["simulation"]["catch_margin"] is None


def test_a_json_plan_with_bad_input_is_a_json_error():
    result = run("--baseline-rate", "1.5", "--margin", "0.01", "--rps", "1", "--json")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert json.loads(result.stderr)["error"]["message"] == (
        "--baseline-rate: must be between 0 and 1 (got 1.5)"
    )


def test_env_plans_for_its_real_traffic_plus_what_it_replays():
    # dev: 60 real requests a minute and 120 replayed, planned at a 50% share.
    args = ("--env", "dev", "--baseline-rate", "0.001", "--canary-share", "50", "--runs", "0")
    result = run(*args)
    assert result.exit_code == 0, result.output
    assert (
        "Traffic: 1.5 req/s canary, 1.5 req/s baseline; canary 50%; 2 req/s of it replayed "
        "test data"
    ) in result.stdout
    traffic = json.loads(run(*args, "--json").stdout)["traffic"]
    assert traffic["replayed_rps"] == 2
    assert traffic["canary_rps"] + traffic["baseline_rps"] == pytest.approx(3)


def test_an_env_with_neither_traffic_nor_replay_needs_rps(tmp_path):
    config = json.loads(CDK_JSON.read_text())
    config["context"]["guardrails:environments"]["dev"]["traffic"] = {
        "expected_requests_per_minute": 0,
        "replay_requests_per_minute": 0,
    }
    path = tmp_path / "cdk.json"
    path.write_text(json.dumps(config))
    result = CliRunner().invoke(
        cli, ["--config", str(path), "plan", "--env", "dev", "--baseline-rate", "0.01"]
    )
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        "Error: --rps: environments.dev plans for no real traffic and replays nothing "
        "(traffic.expected_requests_per_minute 0, traffic.replay_requests_per_minute 0); give "
        "the requests per second to plan for"
    )
