"""Step events parse into typed state, or fail with a message naming the field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from guardrails.rollout.state import EventError, RolloutState, StartRequest, step_state

EVENTS = Path(__file__).resolve().parents[2] / "fixtures" / "events"


def load(name: str) -> dict:
    return json.loads((EVENTS / name).read_text())


def test_the_recorded_start_event_parses():
    request = StartRequest.parse(load("rollout_start.json"))
    assert request.deployment_id == "model-42-rollout"
    assert request.started_by == "codepipeline/guardrails-models"
    assert request.model_package_arn.endswith("model-package/guardrails-prod/42")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda e: e.pop("request"), "request: must be an object"),
        (lambda e: e["request"].pop("started_by"), "request.started_by: required"),
        (
            lambda e: e["request"].update(model_package_arn="arn:aws:s3:::bucket"),
            "request.model_package_arn: not a versioned model package ARN",
        ),
        (lambda e: e.update(deployment_id="a b"), "event.deployment_id: 1-80 letters"),
        (lambda e: e["request"].update(reason=7), "request.reason: must be a string"),
    ],
)
def test_a_bad_start_event_names_the_field(change, message):
    event = load("rollout_start.json")
    change(event)
    with pytest.raises(EventError, match=message):
        StartRequest.parse(event)


def test_state_round_trips_and_ignores_step_functions_extras():
    event = load("rollout_judge.json")
    state = step_state(event)
    assert state.strategy == "canary" and state.rounds == 3
    assert RolloutState.parse({**state.to_event(), "error": {"Error": "X"}}) == state


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("previous_config", "", "rollout.previous_config: required"),
        ("rounds", -1, "rollout.rounds: must be a whole number"),
        ("rounds", "3", "rollout.rounds: must be a whole number"),
        ("action", "yolo", "rollout.action: must be one of"),
    ],
)
def test_a_bad_state_names_the_field(field, value, message):
    raw = load("rollout_judge.json")["rollout"]
    raw[field] = value
    with pytest.raises(EventError, match=message):
        RolloutState.parse(raw)


def test_a_step_event_without_a_state_is_refused():
    with pytest.raises(EventError, match="rollout: must be an object"):
        step_state({"expected": "promote"})


def test_a_first_deploy_state_has_no_rollback_target():
    raw = {**load("rollout_judge.json")["rollout"], "strategy": "first_deploy"}
    raw["previous_config"] = ""
    state = RolloutState.parse(raw)
    assert state.first_deploy and state.previous_config == ""
    assert RolloutState.parse(state.to_event()) == state


def test_a_start_request_may_carry_the_endpoint_shape_to_serve_with():
    event = load("rollout_start.json")
    event["request"]["endpoint"] = {"instance_type": "ml.c5.xlarge", "max_capacity": 6}
    request = StartRequest.parse(event)
    shape = json.loads(request.endpoint_settings)
    assert (shape["instance_type"], shape["max_capacity"], shape["min_capacity"]) == (
        "ml.c5.xlarge",
        6,
        2,
    )
    assert StartRequest.parse(load("rollout_start.json")).endpoint_settings == ""


@pytest.mark.parametrize(
    ("endpoint", "message"),
    [
        ({"instance_type": "big"}, "^request.endpoint.instance_type: must look like ml.m5.large"),
        ({"instance_count": 9}, "^request.endpoint.instance_count: must lie between"),
        ({"colour": "red"}, "^request.endpoint.colour: unknown setting"),
        ("ml.c5.xlarge", "^request.endpoint: must be a mapping"),
    ],
)
def test_a_bad_endpoint_shape_is_refused_naming_the_field(endpoint, message):
    event = load("rollout_start.json")
    event["request"]["endpoint"] = endpoint
    with pytest.raises(EventError, match=message):
        StartRequest.parse(event)


def test_a_garbled_shape_in_the_state_is_refused():
    raw = {**load("rollout_judge.json")["rollout"], "endpoint_settings": "{oops"}
    with pytest.raises(EventError, match="rollout.endpoint_settings: must be EndpointSettings"):
        RolloutState.parse(raw)
