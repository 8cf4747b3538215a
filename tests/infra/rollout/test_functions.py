"""Rollout functions: one per step, on the project runtime, traced, with the settings."""

from __future__ import annotations

import json

from aws_cdk.assertions import Capture, Match, Template

from guardrails.config import SMOKE_TEST_PAYLOAD_MAX_BYTES
from infra.lambda_code import RUNTIME
from infra.rollout.functions import STEPS
from tests.infra.conftest import build, explicit_config


def test_functions_run_the_project_runtime_traced_with_the_environments_settings(template_of):
    for env, strategy in (("dev", "all_at_once"), ("staging", "ab"), ("prod", "linear")):
        settings = Capture()
        template_of(env, "rollout").has_resource_properties(
            "AWS::Lambda::Function",
            {
                "Handler": "guardrails.rollout.handlers.judge",
                "Runtime": RUNTIME.name,
                "TracingConfig": {"Mode": "Active"},
                "Environment": {
                    "Variables": Match.object_like(
                        {
                            "ENDPOINT_NAME": f"guardrails-{env}",
                            "VARIANT_NAME": "AllTraffic",
                            "ENDPOINT_SETTINGS": Match.any_value(),
                            "DEPLOYMENT_SETTINGS": settings,
                            "TABLE_NAME": {"Fn::ImportValue": Match.string_like_regexp("Stateful")},
                            "ROLLBACK_ALARM_NAMES": Match.any_value(),
                        }
                    )
                },
            },
        )
        assert json.loads(settings.as_string())["strategy"] == strategy


def test_each_step_runs_its_handler_for_as_long_as_its_step_may_take(prod):
    functions = prod.find_resources("AWS::Lambda::Function")
    for name, step in STEPS.items():
        (function,) = [
            f["Properties"]
            for logical_id, f in functions.items()
            if logical_id.startswith(f"RolloutFunctions{name}Function")
        ]
        assert function["Handler"] == step.handler, name
        assert function["Timeout"] == step.timeout_seconds, name


# Generous for what CloudFormation resolves a reference to here: generated table, topic,
# role, alarm and bucket names and ARNs are 60-110 characters.
RESOLVED_REFERENCE_LENGTH = 128
LAMBDA_ENVIRONMENT_LIMIT = 4096  # bytes, keys and values together


def resolved_length(value: object) -> int:
    """The length of a template value once deployed, each reference at its generous bound."""
    if isinstance(value, str):
        return len(value.encode())
    if isinstance(value, dict) and "Fn::Join" in value:
        delimiter, parts = value["Fn::Join"]
        return sum(resolved_length(part) for part in parts) + len(delimiter) * (len(parts) - 1)
    return RESOLVED_REFERENCE_LENGTH


def test_the_largest_settings_fit_lambdas_environment_limit():
    """The smoke test payload's bound leaves room for everything else a step function gets."""
    largest = {
        "endpoint_name": "e" * 63,
        "smoke_test_payload": "9" * SMOKE_TEST_PAYLOAD_MAX_BYTES,
        "deployment": {"ab_weight_steps": list(range(1, 101))},
        "judge": {"alpha": 0.001234567891, "latency_margin_ms": 999999.123456789},
    }
    stacks = build(explicit_config(dev=largest))
    functions = Template.from_stack(stacks["dev"].rollout).find_resources("AWS::Lambda::Function")
    assert functions
    for logical_id, function in functions.items():
        variables = function["Properties"]["Environment"]["Variables"]
        size = sum(len(name) + resolved_length(value) for name, value in variables.items())
        assert size < LAMBDA_ENVIRONMENT_LIMIT, (logical_id, size)


def test_functions_know_the_fleets_bounds_to_keep_its_size(template_of):
    bounds = Capture()
    template_of("prod", "rollout").has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Handler": "guardrails.rollout.handlers.deploy",
            "Environment": {"Variables": Match.object_like({"ENDPOINT_SETTINGS": bounds})},
        },
    )
    endpoint = json.loads(bounds.as_string())
    assert (endpoint["min_capacity"], endpoint["max_capacity"]) == (2, 6)
