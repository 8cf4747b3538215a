"""app.py: context selects environments; a bad value stops synthesis with one clear line."""

from __future__ import annotations

import json

import pytest

from tests.infra.conftest import run_app

PROD = {"account": "111111111111", "region": "us-east-1"}
ACCOUNTS = {env: PROD for env in ("dev", "staging", "prod")}


@pytest.mark.parametrize(
    ("context", "expected"),
    [
        (
            {
                "guardrails:environments": {
                    **ACCOUNTS,
                    "staging": {"deployment": {"strategy": "yolo"}},
                }
            },
            "Configuration error: environments.staging.deployment.strategy: must be one of "
            "all_at_once, canary, linear, rolling, ab, shadow (got 'yolo')",
        ),
        (
            {"guardrails:environments": ACCOUNTS, "env": "qa"},
            "Configuration error: env: unknown environment 'qa' (known: dev, staging, prod)",
        ),
        (
            {"guardrails:environments": "{not json"},
            "Configuration error: guardrails:environments: not valid JSON",
        ),
        (
            {"guardrails:environments": {**ACCOUNTS, "prod": {**PROD, "production": "yes"}}},
            "Configuration error: environments.prod.production: must be true or false (got 'yes')",
        ),
        (
            {
                "guardrails:environments": json.dumps(
                    {**ACCOUNTS, "staging": {"judge": {"interval_seconds": 90.5}}}
                )
            },
            "Configuration error: environments.staging.judge.interval_seconds: must be a whole "
            "number (got 90.5)",
        ),
        (
            {
                "guardrails:environments": {
                    **ACCOUNTS,
                    "prod": {**PROD, "endpoint_name": "guardrails-dev"},
                }
            },
            "Configuration error: environments.prod.endpoint_name: must differ from dev's "
            "endpoint name",
        ),
        (
            {
                "guardrails:environments": {
                    env: {"account": "111111111111", "region": "xx-nowhere-1"} for env in ACCOUNTS
                }
            },
            "Configuration error: environments.dev.region: SageMaker's built-in XGBoost images "
            "are not published there",
        ),
        (
            {
                "guardrails:environments": {
                    **ACCOUNTS,
                    "prod": {"account": "333333333333", "region": "eu-west-1"},
                }
            },
            "Configuration error: environments.prod.region: must be the pipeline host dev's "
            "region us-east-1: SageMaker loads a model only from an S3 bucket in the endpoint's "
            "own region",
        ),
    ],
)
def test_bad_context_stops_synth_with_one_line(context, expected, tmp_path):
    result = run_app(context, tmp_path)
    assert result.returncode == 1
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines[-1].startswith(expected), result.stderr
    assert sum(line.startswith("Configuration error") for line in lines) == 1
    assert "Traceback" not in result.stderr
    assert not list(tmp_path.glob("*.template.json"))


def test_env_context_synthesizes_only_that_environment(tmp_path):
    result = run_app({"guardrails:environments": ACCOUNTS, "env": "dev"}, tmp_path)
    assert result.returncode == 0, result.stderr
    templates = sorted(p.name for p in tmp_path.glob("*.template.json"))
    assert templates == [
        "Guardrails-dev-Endpoint.template.json",
        "Guardrails-dev-Monitoring.template.json",
        "Guardrails-dev-Rollout.template.json",
        "Guardrails-dev-Stateful.template.json",
    ]


def test_any_selection_builds_the_pipeline_hosts_stateful_stack():
    """It holds the released artifacts every environment's endpoints load models from."""
    import aws_cdk as cdk

    from infra.config import default_config
    from stacks.guardrails_app import build_app

    config = default_config(ACCOUNTS)
    app = cdk.App()
    stacks = build_app(app, config, config.select(["prod"]))
    assert sorted(
        stack.stack_name for stack in app.node.children if isinstance(stack, cdk.Stack)
    ) == [
        "Guardrails-dev-Stateful",
        "Guardrails-prod-Endpoint",
        "Guardrails-prod-Monitoring",
        "Guardrails-prod-Rollout",
        "Guardrails-prod-Stateful",
    ]
    assert list(stacks) == ["prod"]
    assert stacks["prod"].stateful.released is not None
