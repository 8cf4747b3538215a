"""The CLI as a whole: help everywhere, entry points, config loading and one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import click
import pytest
from botocore.exceptions import ClientError
from click.testing import CliRunner

from guardrails.cli import cli
from guardrails.cli.aws import stack_name
from guardrails.cli.config import load_config
from guardrails.cli.errors import InputError

ROOT = Path(__file__).resolve().parents[3]
CDK_JSON = ROOT / "tests" / "fixtures" / "cli" / "cdk.json"
SUBCOMMANDS = ("plan", "judge", "simulate", "status", "history", "rollback", "unlock")


def test_every_subcommand_is_registered():
    assert set(cli.commands) == set(SUBCOMMANDS)


@pytest.mark.parametrize("command", SUBCOMMANDS)
def test_every_subcommand_has_help(command):
    result = CliRunner().invoke(cli, [command, "--help"])
    assert result.exit_code == 0
    assert result.stdout.startswith(f"Usage: cli {command} [OPTIONS]")
    assert len(result.stdout.splitlines()) > 5


def test_top_level_help_lists_the_exit_codes():
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    assert "Exit codes: 0 ok; 1 the judge said rollback" in result.stdout


def test_python_dash_m_runs_the_cli():
    request = ROOT / "tests" / "fixtures" / "judge_request.json"
    result = subprocess.run(
        [sys.executable, "-m", "guardrails", "judge", str(request)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert result.returncode == 1  # the fixture's latency regression
    assert result.stdout.startswith("Decision: ROLLBACK")
    assert result.stderr == ""


def test_the_console_script_points_at_main():
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert 'guardrails = "guardrails.cli:main"' in pyproject


def test_stack_names_match_the_app():
    from stacks.guardrails_app import stack_name as app_stack_name

    env = load_config(CDK_JSON).environment("staging")
    for part in ("Stateful", "Endpoint"):
        assert stack_name(env, part) == app_stack_name(env, part)


# --------------------------------------------------------------------------- configuration


def test_the_config_is_read_like_app_py_reads_it(tmp_path):
    context = {
        "guardrails:environments": json.dumps(
            {"prod": {"account": "222222222222", "region": "eu-west-1", "judge": {"alpha": 0.1}}}
        )
    }
    path = tmp_path / "cdk.json"
    path.write_text(json.dumps({"context": context}))
    prod = load_config(path).environment("prod")
    assert (prod.account, prod.region, prod.judge.alpha) == ("222222222222", "eu-west-1", 0.1)


def test_the_shipped_cdk_json_loads():
    assert load_config().environment("prod").account == "111111111111"


@pytest.mark.parametrize(
    ("text", "error"),
    [
        (None, "config: cannot read {path} (No such file or directory)"),
        ("{", "config: {path} is not valid JSON (line 1 column 2: Expecting property name"),
        ("[]", 'config: {path} has no "context" object'),
        ('{"context": {"guardrails:environments": "{"}}',
         "guardrails:environments: not valid JSON (Expecting property name"),
        ('{"context": {"guardrails:environments": {"prod": {"region": "Europe"}}}}',
         "environments.prod.region: must look like eu-west-1 (got 'Europe')"),
    ],
)  # fmt: skip
def test_config_errors_name_the_field(tmp_path, text, error):
    path = tmp_path / "cdk.json"
    if text is not None:
        path.write_text(text)
    with pytest.raises(InputError) as raised:
        load_config(path)
    assert raised.value.message.startswith(error.format(path=path))


def test_a_bad_config_is_one_line_and_exit_2(tmp_path):
    path = tmp_path / "cdk.json"
    path.write_text(
        json.dumps(
            {
                "context": {
                    "guardrails:environments": {"staging": {"deployment": {"canary_percent": 60}}}
                }
            }
        )
    )
    result = CliRunner().invoke(cli, ["--config", str(path), "simulate", "--env", "staging"])
    assert result.exit_code == 2
    assert result.stderr == (
        "Error: environments.staging.deployment.canary_percent: "
        "must be between 1 and 50 % (got 60)\n"
    )


def test_the_config_path_can_come_from_the_environment(tmp_path):
    result = CliRunner(env={"GUARDRAILS_CDK_JSON": str(tmp_path / "missing.json")}).invoke(
        cli, ["plan", "--env", "prod", "--baseline-rate", "0.01"]
    )
    assert result.exit_code == 2
    assert result.stderr.startswith(f"Error: config: cannot read {tmp_path / 'missing.json'}")


# --------------------------------------------------------------------------- errors


def _group_with(error: Exception) -> click.Group:
    """The real CLI with one more subcommand that fails the given way."""

    @click.command("boom")
    def boom() -> None:
        raise error

    cli.add_command(boom)
    return cli


@pytest.fixture
def failing():
    yield _group_with
    cli.commands.pop("boom", None)


@pytest.mark.parametrize(
    ("error", "line"),
    [
        (ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}}, "DescribeEndpoint"),
         "Error: AWS DescribeEndpoint: AccessDenied: no"),
        (KeyError("x"), "Error: unexpected KeyError: 'x' (run with --debug for details)"),
    ],
)  # fmt: skip
def test_unexpected_failures_are_one_line_and_exit_1(failing, error, line):
    result = CliRunner().invoke(failing(error), ["boom"])
    assert result.exit_code == 1
    assert result.stderr == line + "\n"


def test_debug_shows_the_real_exception(failing):
    result = CliRunner().invoke(failing(KeyError("x")), ["--debug", "boom"])
    assert isinstance(result.exception, KeyError)
