"""Rollout functions: one per step, on the project runtime, traced, with the settings."""

from __future__ import annotations

import json

from aws_cdk.assertions import Capture, Match

from infra.lambda_code import RUNTIME
from infra.rollout.functions import STEPS


def test_functions_run_the_project_runtime_traced_with_the_environments_settings(template_of):
    for env, strategy in (("dev", "all_at_once"), ("staging", "canary"), ("prod", "linear")):
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
