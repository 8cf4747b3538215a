"""What a `cdk deploy` does to the endpoint, decided from the facts alone (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from guardrails.endpoint import reconcile
from guardrails.endpoint.reconcile import EndpointFacts, decide, shape_differences
from guardrails.rollout.serving import NO_MODEL, ServingModel
from guardrails.rollout.settings import EndpointSettings
from guardrails.services.autoscaling import VariantScaling
from guardrails.services.sagemaker import EndpointView

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
PACKAGE = "arn:aws:sagemaker:us-east-1:123456789012:model-package/guardrails-dev/3"
SERVING = ServingModel(model_package_arn=PACKAGE, endpoint_config="config-3", deployment_id="d-3")
SHAPE = EndpointSettings()
LIVE_CONFIG = {
    "ProductionVariants": [{"VariantName": "AllTraffic", "InstanceType": "ml.m5.large"}],
    "DataCaptureConfig": {"EnableCapture": True, "InitialSamplingPercentage": 100},
}
SCALING = VariantScaling(min_capacity=2, max_capacity=4, target_invocations_per_instance=750.0)


def facts(**changes) -> EndpointFacts:
    values = dict(
        request_type=reconcile.UPDATE,
        endpoint_name="guardrails-dev",
        production=False,
        serving=SERVING,
        shape=SHAPE,
        endpoint=EndpointView(name="guardrails-dev", status="InService", config_name="config-3"),
        live_config=LIVE_CONFIG,
        scaling=SCALING,
        lock=None,
        now=NOW,
    )
    return EndpointFacts(**{**values, **changes})


def lock(minutes_left: float) -> dict:
    lease = int((NOW + timedelta(minutes=minutes_left)).timestamp())
    return {"deployment_id": "d-4", "started_by": "pipeline", "lease_until": lease}


def test_no_model_yet_means_no_endpoint_and_nothing_to_do():
    decision = decide(facts(serving=NO_MODEL, endpoint=None, live_config=None, scaling=None))
    assert decision.action == reconcile.NOTHING
    assert "first approved model's rollout creates the endpoint" in decision.reason


def test_an_endpoint_serving_the_serving_model_in_its_shape_is_left_alone():
    assert decide(facts()).action == reconcile.NOTHING


@pytest.mark.parametrize("request_type", [reconcile.CREATE, reconcile.UPDATE, reconcile.DELETE])
def test_a_rollout_holding_the_lock_keeps_the_endpoint_whatever_cloudformation_asks(
    request_type,
):
    changed = EndpointSettings(instance_type="ml.c5.xlarge")
    decision = decide(facts(request_type=request_type, lock=lock(10), shape=changed))
    assert (decision.action, decision.holder) == (reconcile.LEFT_TO_ROLLOUT, "d-4")
    assert "rollout d-4 holds the lock" in decision.reason


def test_an_expired_lease_does_not_hold_the_endpoint():
    assert decide(facts(lock=lock(-1))).action == reconcile.NOTHING


def test_a_changed_shape_starts_a_rollout_of_the_serving_package():
    changed = EndpointSettings(instance_type="ml.c5.xlarge", max_capacity=6)
    decision = decide(facts(shape=changed))
    assert decision.action == reconcile.RESHAPE
    assert decision.differences == (
        "instance type ml.m5.large -> ml.c5.xlarge",
        "autoscaling 2-4 -> 2-6 instances",
    )
    given = reconcile.rollout_input(SERVING, changed, decision.reason)
    assert given["model_package_arn"] == PACKAGE
    assert given["endpoint"]["instance_type"] == "ml.c5.xlarge"
    assert given["started_by"] == "cloudformation"


def test_a_missing_endpoint_with_a_serving_model_is_rolled_out_again():
    decision = decide(facts(endpoint=None, live_config=None, scaling=None))
    assert decision.action == reconcile.RESHAPE
    assert "as a first deploy" in decision.reason


def test_an_endpoint_serving_something_else_is_held_not_reverted():
    other = EndpointView(name="guardrails-dev", status="InService", config_name="config-2")
    decision = decide(facts(endpoint=other, shape=EndpointSettings(instance_type="ml.c5.xlarge")))
    assert decision.action == reconcile.HELD
    assert "serves config-2, not the serving model's config-3" in decision.reason


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"shape": EndpointSettings(variant_name="Blue")}, "needs a new endpoint"),
        (
            {
                "shape": EndpointSettings(instance_type="ml.c5.xlarge"),
                "endpoint": EndpointView(
                    name="guardrails-dev", status="Updating", config_name="config-3"
                ),
            },
            "waits for the next deploy",
        ),
        ({"serving": ServingModel(endpoint_config="config-3")}, "not its model package"),
    ],
)
def test_changes_cloudformation_cannot_ask_for_are_held(changes, words):
    decision = decide(facts(**changes))
    assert decision.action == reconcile.HELD
    assert words in decision.reason


def test_a_deleted_stack_deletes_its_endpoint_outside_production_only():
    deleted = {"request_type": reconcile.DELETE, "serving": None, "shape": None}
    assert decide(facts(**deleted)).action == reconcile.REMOVE
    kept = decide(facts(**deleted, production=True))
    assert kept.action == reconcile.KEEP
    assert "outlives its stack" in kept.reason
    assert decide(facts(**deleted, endpoint=None)).action == reconcile.NOTHING


@pytest.mark.parametrize(
    ("shape", "live", "scaling", "expected"),
    [
        (SHAPE, LIVE_CONFIG, SCALING, []),
        (
            EndpointSettings(data_capture_percent=0),
            LIVE_CONFIG,
            SCALING,
            ["data capture 100% -> 0%"],
        ),
        (
            SHAPE,
            {"ProductionVariants": LIVE_CONFIG["ProductionVariants"]},
            SCALING,
            ["data capture 0% -> 100%"],
        ),
        (SHAPE, LIVE_CONFIG, None, ["autoscaling not registered -> 2-4 instances"]),
        (
            EndpointSettings(target_invocations_per_instance=500),
            LIVE_CONFIG,
            SCALING,
            ["target invocations per instance 750.0 -> 500"],
        ),
    ],
)
def test_shape_differences(shape, live, scaling, expected):
    assert shape_differences(shape, live, scaling) == expected


def test_execution_names_are_one_per_cloudformation_request():
    first = reconcile.execution_name("request-1")
    assert first == reconcile.execution_name("request-1") != reconcile.execution_name("request-2")
    assert first.startswith("cfn-") and len(first) <= 80
