"""The CLI as a whole: help everywhere, entry points, finding cdk.json, exit codes, --json,
shell completion."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import click
import pytest
from botocore.exceptions import (
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    ProfileNotFound,
)
from click.testing import CliRunner

from guardrails.cli import cli
from guardrails.cli.aws import stack_name
from guardrails.cli.config import find_cdk_json, load_config
from guardrails.cli.errors import Failure, InputError, OperationalError

ROOT = Path(__file__).resolve().parents[3]
CDK_JSON = ROOT / "tests" / "fixtures" / "cli" / "cdk.json"
SUBCOMMANDS = (
    "plan", "judge", "simulate", "start", "status", "history", "abort", "rollback", "unlock",
)  # fmt: skip


def test_every_subcommand_is_registered():
    assert set(cli.commands) == set(SUBCOMMANDS)


@pytest.mark.parametrize("command", SUBCOMMANDS)
def test_every_subcommand_has_help(command):
    result = CliRunner().invoke(cli, [command, "--help"])
    assert result.exit_code == 0
    assert result.stdout.startswith(f"Usage: cli {command} [OPTIONS]")
    assert len(result.stdout.splitlines()) > 5


@pytest.mark.parametrize("command", SUBCOMMANDS)
def test_every_subcommand_takes_json(command):
    assert "--json" in [opt for param in cli.commands[command].params for opt in param.opts]


def test_top_level_help_lists_the_exit_codes():
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    text = " ".join(result.stdout.split())
    assert "Exit codes: 0 ok; 1 the judge said rollback" in text
    assert "2 bad usage or input; 3 AWS or another operational error" in text
    assert "_GUARDRAILS_COMPLETE" in text


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
    for part in ("Stateful", "Endpoint", "Rollout"):
        assert stack_name(env, part) == app_stack_name(env, part)


def test_the_stack_outputs_the_cli_reads_exist():
    """Output keys are only strings here: a renamed CfnOutput must fail this, not an operator."""
    sources = {
        part: (ROOT / "stacks" / f"{part}_stack.py").read_text()
        for part in ("stateful", "endpoint", "rollout")
    }
    for part, key in [
        ("stateful", "DeploymentTableName"),
        ("stateful", "OnCallTopicArn"),
        ("endpoint", "EndpointName"),
        ("rollout", "StateMachineArn"),
    ]:
        assert f'"{key}"' in sources[part]


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
    assert load_config(ROOT / "cdk.json").environment("prod").account == "111111111111"


# --------------------------------------------------------------------------- finding cdk.json


def _app(directory: Path, context: dict | None = None) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "cdk.json"
    context = {"guardrails:environments": {}} if context is None else context
    path.write_text(json.dumps({"app": "python3 app.py", "context": context}))
    return path


def test_cdk_json_is_found_in_the_current_directory_or_a_parent(tmp_path):
    path = _app(tmp_path / "checkout")
    nested = tmp_path / "checkout" / "docs" / "deep"
    nested.mkdir(parents=True)
    assert find_cdk_json(None, None, cwd=nested) == path


def test_another_cdk_apps_cdk_json_is_passed_over(tmp_path):
    ours = _app(tmp_path)
    _app(tmp_path / "other", context={"@aws-cdk/core:target-partitions": ["aws"]})
    assert find_cdk_json(None, None, cwd=tmp_path / "other") == ours


def test_no_cdk_json_anywhere_is_none(tmp_path):
    assert find_cdk_json(None, None, cwd=tmp_path) is None


def test_config_beats_app_dir_which_beats_the_search(tmp_path):
    explicit = _app(tmp_path / "a")
    app_dir = tmp_path / "b"
    _app(app_dir)
    assert find_cdk_json(explicit, app_dir, cwd=tmp_path) == explicit
    assert find_cdk_json(None, app_dir, cwd=tmp_path / "a") == app_dir / "cdk.json"


def test_an_app_dir_without_cdk_json_is_bad_usage(tmp_path):
    with pytest.raises(InputError) as raised:
        find_cdk_json(None, tmp_path)
    assert raised.value.message == f"--app-dir: {tmp_path} has no cdk.json"


def test_the_app_dir_can_come_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.delenv("GUARDRAILS_CDK_JSON", raising=False)
    monkeypatch.chdir(tmp_path)  # nothing to find here
    app_dir = tmp_path / "app"
    _app(app_dir, {"guardrails:environments": {"prod": {"judge": {"alpha": 0.6}}}})
    result = CliRunner(env={"GUARDRAILS_APP_DIR": str(app_dir)}).invoke(
        cli, ["plan", "--env", "prod", "--baseline-rate", "0.01"]
    )
    assert result.exit_code == 2  # the app dir's cdk.json was read: its alpha is out of range
    assert result.stderr.startswith("Error: environments.prod.judge.alpha: ")


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
    @click.option("--json", "as_json", is_flag=True)
    def boom(as_json: bool) -> None:
        raise error

    cli.add_command(boom)
    return cli


@pytest.fixture
def failing():
    yield _group_with
    cli.commands.pop("boom", None)


@pytest.mark.parametrize(
    ("error", "code", "line"),
    [
        (Failure("refused: the lock is held"), 1, "Error: refused: the lock is held"),
        (InputError("--margin: must be above 0"), 2, "Error: --margin: must be above 0"),
        (ProfileNotFound(profile="nope"), 2,
         "Error: --profile: The config profile (nope) could not be found"),
        (OperationalError("stack X: not deployed"), 3, "Error: stack X: not deployed"),
        (NoCredentialsError(), 3,
         "Error: no AWS credentials found: set AWS_PROFILE, pass --profile, or log in "
         "(aws sso login)"),
        (ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}}, "DescribeEndpoint"), 3,
         "Error: AWS DescribeEndpoint: AccessDenied: no"),
        (ClientError({"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}},
                     "DescribeStacks"), 3,
         "Error: AWS DescribeStacks: ThrottlingException: Rate exceeded"),
        (EndpointConnectionError(endpoint_url="https://sts.amazonaws.com"), 3,
         'Error: cannot reach AWS: Could not connect to the endpoint URL: '
         '"https://sts.amazonaws.com"'),
        (KeyError("x"), 3, "Error: unexpected KeyError: 'x' (run with --debug for details)"),
    ],
)  # fmt: skip
def test_each_kind_of_failure_has_its_exit_code_and_one_line(failing, error, code, line):
    result = CliRunner().invoke(failing(error), ["boom"])
    assert result.exit_code == code
    assert result.stderr == line + "\n"


@pytest.mark.parametrize(
    ("error", "code", "kind"),
    [
        (Failure("refused"), 1, "failed"),
        (InputError("--x: bad"), 2, "usage"),
        (ClientError({"Error": {"Code": "Throttling", "Message": "slow"}}, "Query"), 3,
         "operational"),
    ],
)  # fmt: skip
def test_with_json_each_failure_is_a_json_document_on_stderr(failing, error, code, kind):
    result = CliRunner().invoke(failing(error), ["boom", "--json"])
    assert result.exit_code == code
    assert result.stdout == ""
    assert json.loads(result.stderr)["error"]["kind"] == kind
    assert json.loads(result.stderr)["error"]["exit_code"] == code


def test_with_json_click_usage_errors_are_json_too():
    result = CliRunner().invoke(cli, ["status", "--json"])
    assert result.exit_code == 2
    assert json.loads(result.stderr)["error"]["message"] == "Missing option '--env'."


def test_a_json_after_double_dash_is_an_argument_not_the_flag():
    result = CliRunner().invoke(cli, ["judge", "--", "--json"])
    assert result.exit_code == 2
    # Click's own usage error, not a JSON document: no --json was asked for.
    assert result.stderr.splitlines()[-1] == (
        "Error: Invalid value for '[FILE]': '--json': No such file or directory"
    )


def test_debug_shows_the_real_exception(failing):
    result = CliRunner().invoke(failing(KeyError("x")), ["--debug", "boom"])
    assert isinstance(result.exception, KeyError)


# --------------------------------------------------------------------------- shell completion


def test_bash_completion_script_is_there():
    result = CliRunner().invoke(
        cli, [], prog_name="guardrails", env={"_GUARDRAILS_COMPLETE": "bash_source"}
    )
    assert result.exit_code == 0
    assert "_guardrails_completion()" in result.stdout
    assert "complete -o nosort -F _guardrails_completion guardrails" in result.stdout


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        ("guardrails st", ["start", "status"]),
        (f"guardrails --config {CDK_JSON} status --env ", ["dev", "staging", "prod"]),
        (f"guardrails --config {CDK_JSON} abort --env p", ["prod"]),
    ],
)
def test_bash_completes_commands_and_environment_names(words, expected):
    env = {
        "_GUARDRAILS_COMPLETE": "bash_complete",
        "COMP_WORDS": words,
        "COMP_CWORD": str(len(words.split()) - (0 if words.endswith(" ") else 1)),
    }
    result = CliRunner().invoke(cli, [], prog_name="guardrails", env=env)
    assert [line.split(",", 1)[1] for line in result.stdout.splitlines()] == expected
