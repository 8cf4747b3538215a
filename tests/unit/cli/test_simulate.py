"""`guardrails simulate`: a small run writes a real PNG and reports the operating curve."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from guardrails.cli import cli

CDK_JSON = Path(__file__).resolve().parents[2] / "fixtures" / "cli" / "cdk.json"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def run(*args: str):
    return CliRunner().invoke(cli, ["--config", str(CDK_JSON), "simulate", *args])


def test_a_small_run_writes_a_png_and_a_table(tmp_path):
    out = tmp_path / "oc.png"
    result = run("--env", "staging", "--runs", "8", "--effects", "0,1,3", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert out.read_bytes().startswith(PNG_SIGNATURE)
    assert out.stat().st_size > 10_000  # two panels of lines, not an empty canvas
    lines = result.stdout.splitlines()
    assert lines[0] == (
        "Guardrail of staging: error rate 0.005 baseline, margin 0.005, alpha 0.05, min_samples 100"
    )
    assert (
        "Traffic 25 req/s, canary at 10%: 150 canary and 1,350 baseline requests per 60 s look"
        in lines[1]
    )
    assert lines[4].split() == [
        "regression", "x", "margin", "rollback", "promote",
        "undecided", "mean", "time", "p95", "time",
    ]  # fmt: skip
    rows = {line.split()[1]: line.split() for line in lines if line.strip().startswith("+")}
    assert set(rows) == {"0", "1", "3"}
    assert rows["3"][2] == "100.0%"  # three margins worse: always rolled back
    assert f"Plot: {out}" in result.stdout
    assert "Simulating rollouts" in result.stderr  # the progress bar goes to stderr


def test_the_same_seed_gives_the_same_numbers(tmp_path):
    args = ["--env", "prod", "--runs", "5", "--effects", "0,2", "--seed", "3"]
    first = run(*args, "--out", str(tmp_path / "a.png"))
    second = run(*args, "--out", str(tmp_path / "b.png"))
    table = [line for line in first.stdout.splitlines() if line.strip().startswith("+")]
    assert table == [line for line in second.stdout.splitlines() if line.strip().startswith("+")]


def test_all_at_once_needs_a_canary_share(tmp_path):
    out = tmp_path / "dev.png"
    refused = run("--env", "dev", "--runs", "2", "--out", str(out))
    assert refused.exit_code == 2
    assert refused.stderr.strip().startswith(
        "Error: --canary-share: environments.dev.deployment.strategy is all_at_once"
    )
    given = run(
        "--env", "dev", "--runs", "2", "--effects", "2", "--canary-share", "20", "--out", str(out)
    )
    assert given.exit_code == 0, given.output
    assert "canary 20%" in given.stdout


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["--effects", "a,b"],
         "Error: --effects: comma-separated numbers, e.g. 0,0.25,0.5,0.75,1,1.5,2,3"),
        (["--effects", "-1"],
         "Error: --effects: comma-separated numbers >= 0, e.g. 0,0.25,0.5,0.75,1,1.5,2,3"),
        (["--baseline-rate", "2"], "Error: --baseline-rate: must be between 0 and 1 (got 2)"),
        (["--rps", "0"], "Error: --rps: must be above 0 (got 0)"),
        (["--baseline-rate", "0.99", "--effects", "3"],
         "Error: --effects: the largest regression takes the error rate to 1 or above"),
        (["--baseline-rate", "0.998"],
         "Error: --margin: must be above 0 and keep baseline rate + margin below 1 (got 0.005)"),
    ],
)  # fmt: skip
def test_bad_inputs_exit_2_with_one_line(tmp_path, args, error):
    result = run("--env", "staging", "--runs", "1", "--out", str(tmp_path / "x.png"), *args)
    assert result.exit_code == 2
    assert result.stderr.strip() == error


def test_an_unwritable_plot_path_is_one_line(tmp_path):
    result = run(
        "--env", "staging", "--runs", "1", "--effects", "3", "--out", str(tmp_path / "no" / "x.png")
    )
    assert result.exit_code == 2
    assert (
        result.stderr.strip().splitlines()[-1].startswith(f"Error: --out: cannot write {tmp_path}")
    )


def test_json_reports_every_row_and_the_plot_and_keeps_stderr_clean(tmp_path):
    out = tmp_path / "oc.png"
    args = ("--env", "staging", "--runs", "8", "--effects", "0,1,3", "--out", str(out))
    text = run(*args)
    result = run(*args, "--json")
    assert result.exit_code == 0, result.output
    assert result.stderr == ""  # no progress bar: stderr is for a JSON error only
    report = json.loads(result.stdout)
    assert report["plot"] == str(out) and out.read_bytes().startswith(PNG_SIGNATURE)
    assert [r["margins"] for r in report["results"]] == [0, 1, 3]
    assert report["results"][2]["rollback_rate"] == 1.0
    rows = [line.split() for line in text.stdout.splitlines() if line.strip().startswith("+")]
    assert [r[2] for r in rows] == [f"{s['rollback_rate'] * 100:.1f}%" for s in report["results"]]
    assert report["judge"]["alpha"] == 0.05 and report["runs"] == 8


def test_an_env_is_simulated_at_its_real_traffic_plus_what_it_replays(tmp_path):
    """As plan and the synth-time check count it: staging with no users, 120 replayed a minute."""
    config = json.loads(CDK_JSON.read_text())
    staging = config["context"]["guardrails:environments"]["staging"]
    staging["deployment"] = {"strategy": "ab", "ab_weight_steps": [50, 100]}
    staging["traffic"] = {"expected_requests_per_minute": 0, "replay_requests_per_minute": 120}
    path = tmp_path / "cdk.json"
    path.write_text(json.dumps(config))
    args = ["--env", "staging", "--runs", "2", "--effects", "0", "--out", str(tmp_path / "s.png")]
    result = CliRunner().invoke(cli, ["--config", str(path), "simulate", *args])
    assert result.exit_code == 0, result.output
    assert (
        "Traffic 2 req/s, ab at 50%; 2 req/s of it replayed test data: 60 canary and 60 "
        "baseline requests per 60 s look"
    ) in result.stdout
    report = json.loads(
        CliRunner().invoke(cli, ["--config", str(path), "simulate", *args, "--json"]).stdout
    )
    assert (report["traffic"]["rps"], report["traffic"]["replayed_rps"]) == (2, 2)
