"""From an empty account to a serving endpoint through the rollout (issue 14), and reshaping.

Whole rollouts on the simulated SageMaker (sagemaker_sim.py): the first approved model finds no
endpoint, so the rollout creates it (no baseline: limits and the smoke test only), records
what serves in the SSM parameter and registers autoscaling; a failing first deploy leaves no
endpoint behind. A rollout whose execution input carries a new endpoint shape (what the
endpoint stack's reconciler sends) changes the instance type through the same guarded path.
"""

from __future__ import annotations

import json
from dataclasses import asdict

from guardrails import records
from guardrails.rollout.endpoint_configs import resource_names
from guardrails.rollout.serving import ServingModel
from guardrails.rollout.settings import EndpointSettings
from guardrails.rollout.state import FIRST_DEPLOY
from guardrails.services.autoscaling import VariantScaling
from tests.unit.rollout.doubles import (
    CAPTURE_URI,
    ENDPOINT,
    KEY_ARN,
    LIVE_CONFIG,
    VARIANT,
    World,
    make_world,
)
from tests.unit.rollout.sagemaker_sim import ModelProfile, SimulatedSageMaker
from tests.unit.rollout.state_machine_driver import Driver

NAMES = resource_names(ENDPOINT, "d-1")
SHAPE = {"instance_count": 1, "min_capacity": 1, "max_capacity": 3}


def simulate(
    monkeypatch,
    *,
    candidate: ModelProfile,
    requests_per_minute: float,
    serving: bool = False,
    strategy: str = "canary",
) -> tuple[World, SimulatedSageMaker]:
    world = make_world(monkeypatch, strategy=strategy, endpoint=SHAPE, serving=serving)
    sim = SimulatedSageMaker(
        world=world, requests_per_minute=requests_per_minute, models={NAMES.model: candidate}
    )
    sim.install(monkeypatch)
    return world, sim


def decisions(world: World) -> list[dict]:
    return list(reversed(records.list_decisions(world.table, "d-1", limit=500)))


def test_the_first_approved_model_creates_the_endpoint_and_is_promoted(aws, monkeypatch):
    world, sim = simulate(monkeypatch, candidate=ModelProfile(), requests_per_minute=120)

    run = Driver(world, sim).run()

    assert run.result == "PROMOTED"
    assert (run.path[:2], run.path[-3:]) == (
        ["Start", "Deploy"],
        ["Promote", "SmokeTest", "FinishPromotion"],
    )
    assert (sim.status, sim.config_name) == ("InService", NAMES.new_config)
    # Recorded as a first deploy: no rollback target.
    record = records.get_deployment(world.table, "d-1")
    assert (record.strategy, record.previous_endpoint_config) == (FIRST_DEPLOY, "")
    start = decisions(world)[0]
    assert start["details"]["first_deploy"] is True
    assert start["details"]["rollback_target"] is None
    # The endpoint was created (not updated) on a config shaped by the settings alone.
    (created,) = sim.updates
    assert created == {"EndpointName": ENDPOINT, "EndpointConfigName": NAMES.new_config}
    config = sim.configs[NAMES.new_config]
    assert config["ProductionVariants"] == [
        {"VariantName": VARIANT, "ModelName": NAMES.model, "InitialInstanceCount": 1,
         "InstanceType": "ml.m5.large", "InitialVariantWeight": 1.0}
    ]  # fmt: skip
    assert config["KmsKeyId"] == KEY_ARN
    assert config["DataCaptureConfig"]["DestinationS3Uri"] == CAPTURE_URI
    # What serves is recorded, autoscaling registered, and only then the lock released.
    serving = world.serving_model()
    assert (serving.model_package_arn, serving.endpoint_config, serving.deployment_id) == (
        world.approved_package,
        NAMES.new_config,
        "d-1",
    )
    assert world.scaling() == VariantScaling(1, 3, 750.0)
    assert records.current_lock(world.table, ENDPOINT) is None


def test_a_first_deploy_is_judged_on_limits_only(aws, monkeypatch):
    world, sim = simulate(monkeypatch, candidate=ModelProfile(), requests_per_minute=120)

    Driver(world, sim).run()

    rounds = [d for d in decisions(world) if d["decided_by"] == "judge"]
    assert rounds and all(
        r["details"]["response"]["reason"] == "first deploy (no baseline): no limit shown breached"
        for r in rounds
    )
    # No baseline is ever recorded: the numbers are the new model's alone.
    request = rounds[-1]["details"]["request"]
    minutes = [minute for metric in request["metrics"] for minute in metric["minutes"]]
    assert minutes and all(minute["baseline"] is None for minute in minutes)
    assert sum(m["canary"]["trials"] for m in request["metrics"][0]["minutes"] if m["canary"]) > 0


def test_a_first_deploy_without_traffic_promotes_after_the_bake_time(aws, monkeypatch):
    """A new endpoint has no callers: the bake time and the smoke test are the gate."""
    world, sim = simulate(monkeypatch, candidate=ModelProfile(), requests_per_minute=0)

    run = Driver(world, sim).run()

    assert run.result == "PROMOTED"
    judged = [d for d in decisions(world) if d["decided_by"] == "judge"]
    assert judged[-1]["details"]["elapsed_seconds"] >= world.ctx.settings.judge.bake_time_seconds


def test_a_first_deploy_breaching_a_limit_is_rolled_back_by_deleting_the_endpoint(aws, monkeypatch):
    world, sim = simulate(
        monkeypatch, candidate=ModelProfile(error_rate=0.2), requests_per_minute=300
    )

    run = Driver(world, sim).run()

    assert run.result == "ROLLED_BACK"
    assert "Rollback" in run.path and "Promote" not in run.path
    assert not sim.exists  # nothing older may serve, so nothing serves
    assert "first deploy: error_rate_5xx" in records.get_deployment(world.table, "d-1").reason
    assert world.serving_model().has_model is False
    assert world.scaling() is None
    assert records.current_lock(world.table, ENDPOINT) is None


def test_a_failed_first_deploy_ends_with_no_endpoint(aws, monkeypatch):
    world, sim = simulate(monkeypatch, candidate=ModelProfile(), requests_per_minute=60)

    run = Driver(world, sim, fail=lambda step, state: step == "SmokeTest").run()

    assert run.result == "FAILED"
    assert not sim.exists
    assert world.serving_model().has_model is False
    assert world.scaling() is None
    record = records.get_deployment(world.table, "d-1")
    assert f"endpoint {ENDPOINT} is deleted: nothing serves" in record.reason
    assert records.current_lock(world.table, ENDPOINT) is None  # verified: released


def test_a_reshape_deregisters_autoscaling_before_changing_the_instance_type(aws, monkeypatch):
    """The sim refuses an instance type change while the variant is registered, as SageMaker."""
    world, sim = simulate(
        monkeypatch,
        candidate=ModelProfile(),
        requests_per_minute=1500,
        serving=True,
        strategy="all_at_once",
    )
    shape = EndpointSettings(**{**SHAPE, "instance_type": "ml.c5.xlarge", "max_capacity": 4})

    run = Driver(world, sim, endpoint_settings=json.dumps(asdict(shape))).run()

    assert run.result == "PROMOTED"
    kinds = [d["decision"] for d in decisions(world)]
    assert kinds.index("autoscaling") < kinds.index("deploy")
    variant = sim.configs[NAMES.new_config]["ProductionVariants"][0]
    assert (variant["InstanceType"], variant["ModelName"]) == ("ml.c5.xlarge", NAMES.model)
    assert world.scaling() == VariantScaling(1, 4, 750.0)  # registered again, new bounds
    assert world.serving_model().endpoint_config == NAMES.new_config


def test_a_rolled_back_rollout_writes_what_serves_again(aws, monkeypatch):
    world, sim = simulate(
        monkeypatch,
        candidate=ModelProfile(error_rate=0.05),
        requests_per_minute=1500,
        serving=True,
    )

    run = Driver(world, sim).run()

    assert run.result == "ROLLED_BACK"
    assert world.serving_model() == ServingModel(
        model_package_arn="",  # the test's live model names no package
        endpoint_config=LIVE_CONFIG,
        deployment_id="d-1",
        updated_at=world.serving_model().updated_at,
    )
    assert world.scaling() is not None
