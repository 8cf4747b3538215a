"""One synthesized app for every environment, and template readers, shared by the tests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Capture, Template
from cdk_nag import AwsSolutionsChecks

from infra.config import ENVIRONMENTS_CONTEXT_KEY, AppConfig, default_config
from stacks.guardrails_app import EnvironmentStacks, build_app
from stacks.pipeline_stack import build_pipeline

TEST_ACCOUNT = "111111111111"
TEST_REGION = "us-east-1"
ENVIRONMENTS = ("dev", "staging", "prod")
# Tooling (the pipeline's host, dev), staging and prod in accounts of their own.
THREE_ACCOUNTS = {"dev": TEST_ACCOUNT, "staging": "222222222222", "prod": "333333333333"}
ROOT = Path(__file__).resolve().parents[2]
CDK_JSON = ROOT / "cdk.json"


def explicit_config(**overrides: dict) -> AppConfig:
    """The shipped config with the test account, like cdk.json gives it."""
    base = {env: {"account": TEST_ACCOUNT, "region": TEST_REGION} for env in ENVIRONMENTS}
    for env, values in overrides.items():
        base[env] = {**base[env], **values}
    return default_config(base)


def three_account_overrides() -> dict[str, dict[str, str]]:
    return {
        env: {"account": account, "region": TEST_REGION} for env, account in THREE_ACCOUNTS.items()
    }


def run_app(context: dict, outdir: Path) -> subprocess.CompletedProcess:
    """app.py as `cdk synth -c ...` runs it: cdk.json's context (feature flags included) with
    `context` over it, cdk-nag on, into `outdir`."""
    merged = {**json.loads(CDK_JSON.read_text())["context"], **context}
    env = {**os.environ, "CDK_CONTEXT_JSON": json.dumps(merged), "CDK_OUTDIR": str(outdir)}
    return subprocess.run(
        [sys.executable, "app.py"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )


def new_app(**kwargs) -> cdk.App:
    """An App with cdk.json's feature flags, as `cdk synth` would give it."""
    context = json.loads(CDK_JSON.read_text())["context"]
    flags = {key: value for key, value in context.items() if key.startswith("@aws-cdk/")}
    return cdk.App(context=flags, **kwargs)


def build(config: AppConfig) -> dict[str, EnvironmentStacks]:
    """Build every environment into a fresh App without cdk-nag (it blocks Template)."""
    app = new_app()
    return build_app(app, config, config.environments)


def nag_checked_app(outdir: Path) -> tuple[cdk.App, dict[str, EnvironmentStacks]]:
    """Every stack of the shipped config and the pipeline, with cdk-nag, as `cdk synth` runs."""
    app = new_app(outdir=str(outdir))
    config = explicit_config()
    stacks = build_app(app, config, config.environments)
    build_pipeline(app, config, stacks)
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks())
    return app, stacks


@pytest.fixture(scope="session")
def assembly(tmp_path_factory) -> cdk.cx_api.CloudAssembly:
    """The whole app synthesized once per test process (tests using it share an xdist group)."""
    app, _ = nag_checked_app(tmp_path_factory.mktemp("cdk.out"))
    return app.synth()  # raises on any unacknowledged cdk-nag finding


@pytest.fixture(scope="session")
def three_account_assembly(tmp_path_factory) -> Path:
    """`cdk synth` of dev, staging and prod in three accounts: the cloud assembly's folder."""
    outdir = tmp_path_factory.mktemp("three-accounts")
    result = run_app({ENVIRONMENTS_CONTEXT_KEY: three_account_overrides()}, outdir)
    assert result.returncode == 0, result.stderr[-3000:]
    return outdir


def read_templates(outdir: Path) -> dict[str, dict]:
    """Every synthesized template in a cloud assembly's folder, by stack name."""
    return {
        path.name.removesuffix(".template.json"): json.loads(path.read_text())
        for path in sorted(outdir.glob("*.template.json"))
    }


@pytest.fixture(scope="session")
def shipped_stacks() -> dict[str, EnvironmentStacks]:
    return build(explicit_config())


@pytest.fixture(scope="session")
def template_of(
    shipped_stacks: dict[str, EnvironmentStacks],
) -> Callable[[str, str], Template]:
    """template_of("prod", "endpoint") -> the Template of that stack, built once."""
    cache: dict[tuple[str, str], Template] = {}

    def get(env: str, part: str) -> Template:
        key = (env, part)
        if key not in cache:
            cache[key] = Template.from_stack(getattr(shipped_stacks[env], part))
        return cache[key]

    return get


def state_machine_definition(template: Template) -> dict:
    """The one state machine's definition, each function reference replaced by its logical id."""
    (machine,) = template.find_resources("AWS::StepFunctions::StateMachine").values()
    parts = machine["Properties"]["DefinitionString"]["Fn::Join"][1]
    text = "".join(p if isinstance(p, str) else p["Fn::GetAtt"][0] for p in parts)
    return json.loads(text)


def logged_and_traced_log_group(template: Template) -> str:
    """Check a state machine logs ALL events with data, traced, to a KMS-encrypted group kept
    90 days; return that log group's logical id."""
    log_group = Capture()
    template.has_resource_properties(
        "AWS::StepFunctions::StateMachine",
        {
            "LoggingConfiguration": {
                "Destinations": [
                    {"CloudWatchLogsLogGroup": {"LogGroupArn": {"Fn::GetAtt": [log_group, "Arn"]}}}
                ],
                "IncludeExecutionData": True,
                "Level": "ALL",
            },
            "TracingConfiguration": {"Enabled": True},
        },
    )
    logs = template.find_resources("AWS::Logs::LogGroup")[log_group.as_string()]
    assert "KmsKeyId" in logs["Properties"] and logs["Properties"]["RetentionInDays"] == 90
    return log_group.as_string()
