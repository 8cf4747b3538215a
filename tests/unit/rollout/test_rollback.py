"""rollback_endpoint: the operator's rollback and the rollout's last step, against moto."""

from __future__ import annotations

import pytest
from moto import mock_aws

from guardrails import records
from guardrails.rollout import steps
from guardrails.rollout.rollback import EndpointBusy, RollbackRefused, rollback_endpoint
from guardrails.rollout.state import StartRequest
from tests.aws import hold_lock
from tests.unit.rollout.doubles import ENDPOINT, LIVE_CONFIG, World, make_world


@pytest.fixture
def world(monkeypatch):
    with mock_aws():
        yield make_world(monkeypatch)


def promoted(world: World) -> str:
    """Roll d-1 out and finish it as promoted; the new config's name."""
    request = StartRequest(
        deployment_id="d-1",
        execution_arn="",
        model_package_arn=world.approved_package,
        started_by="pipeline",
    )
    state = steps.deploy(steps.start(request, world.ctx), world.ctx)
    record = records.get_deployment(world.table, "d-1")
    records.update_deployment(world.table, record, status=records.STATUS_PROMOTED)
    records.release_lock(world.table, endpoint_name=ENDPOINT, deployment_id="d-1")
    return state.new_config


def roll_back(world: World, **overrides):
    arguments = dict(
        sagemaker=world.ctx.sagemaker,
        table=world.table,
        notifier=world.ctx.notifier,
        endpoint_name=ENDPOINT,
        target_config=None,
        decided_by="alice",
        reason="customers report bad scores",
        region="us-east-1",
    )
    return rollback_endpoint(**{**arguments, **overrides})


def test_rolls_back_to_the_newest_records_previous_config(world):
    new_config = promoted(world)
    result = roll_back(world)
    assert (result.target_config, result.previous_config, result.changed) == (
        LIVE_CONFIG,
        new_config,
        True,
    )
    assert world.updates[-1] == {
        "EndpointName": ENDPOINT,
        "EndpointConfigName": LIVE_CONFIG,
        "RetainDeploymentConfig": False,
        # The fleet keeps the instances autoscaling gave it, not the old config's count.
        "RetainAllVariantProperties": True,
        "ExcludeRetainedVariantProperties": [
            {"VariantPropertyType": "DesiredWeight"},
            {"VariantPropertyType": "DataCaptureConfig"},
        ],
    }
    record = records.get_deployment(world.table, "d-1")
    assert record.status == "ROLLED_BACK" and "rolled back by alice" in record.reason
    decision = records.list_decisions(world.table, "d-1")[0]
    assert (decision["decision"], decision["decided_by"]) == ("rollback", "alice")
    assert decision["details"]["target_config"] == LIVE_CONFIG
    message = world.messages()[-1]
    assert message["facts"]["kind"] == "rollback_requested"
    assert "customers report bad scores" in message["text"]


def test_running_it_twice_is_a_no_op_that_says_so(world):
    promoted(world)
    roll_back(world)
    again = roll_back(world)
    assert again.changed is False
    assert "already serves live-config: nothing to roll back" in again.message
    assert len([u for u in world.updates if u["EndpointConfigName"] == LIVE_CONFIG]) == 1


def test_refuses_a_target_that_does_not_exist(world):
    promoted(world)
    with pytest.raises(RollbackRefused, match="endpoint config nope does not exist"):
        roll_back(world, target_config="nope")


def test_refuses_while_a_rollout_holds_the_lock_unless_forced(world):
    promoted(world)
    hold_lock(world.table, ENDPOINT, "d-2")
    with pytest.raises(RollbackRefused, match="being rolled out by d-2 .started by ci"):
        roll_back(world)
    assert roll_back(world, force=True).changed is True


def test_the_rollout_holding_the_lock_may_roll_back(world):
    promoted(world)
    hold_lock(world.table, ENDPOINT, "d-1")
    result = roll_back(world, deployment_id="d-1", notifier=None)
    assert result.changed is True
    # The state machine's Finish step ends the record, not the rollback itself.
    assert records.get_deployment(world.table, "d-1").status == "PROMOTED"


def test_waits_while_sagemaker_is_updating(world):
    promoted(world)
    world.endpoint.endpoint_status = "Updating"
    with pytest.raises(EndpointBusy, match="is Updating"):
        roll_back(world)


def test_without_a_record_a_target_must_be_named(world):
    with pytest.raises(RollbackRefused, match="has no deployment record: name the endpoint"):
        roll_back(world)
    result = roll_back(world, target_config=LIVE_CONFIG)
    assert result.changed is False


def test_a_reason_is_required(world):
    with pytest.raises(RollbackRefused, match="reason: say why"):
        roll_back(world, reason="  ")


def test_a_first_deploy_has_no_earlier_config_to_roll_back_to(monkeypatch):
    with mock_aws():
        world = make_world(monkeypatch, serving=False)
        records.put_deployment(
            world.table,
            records.DeploymentRecord(
                deployment_id="d-1", endpoint_name=ENDPOINT, environment="test",
                model_package_arn=world.approved_package, previous_endpoint_config="",
                strategy="first_deploy", started_by="pipeline",
            ),
        )  # fmt: skip
        with pytest.raises(RollbackRefused, match="d-1 was the first deploy of guardrails-test"):
            rollback_endpoint(
                sagemaker=world.ctx.sagemaker, table=world.table, notifier=None,
                endpoint_name=ENDPOINT, target_config=None, decided_by="carol", reason="bad",
            )  # fmt: skip
