"""The rollout policy: what happens after each judge round."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from guardrails.rollout.policy import Situation, next_action
from guardrails.rollout.state import RolloutError
from guardrails.services.sagemaker import EndpointView

BUSY = EndpointView(name="e", status="Updating", config_name="old", pending_config_name="new")
ON_NEW = EndpointView(name="e", status="InService", config_name="new")
ON_OLD = EndpointView(name="e", status="InService", config_name="old")


def situation(**overrides) -> Situation:
    values = dict(
        kind="native",
        decision="promote",
        judge_reason="all 3 metrics shown non-inferior",
        endpoint=ON_NEW,
        previous_config="old",
        candidate_config="new",
        elapsed_seconds=900,
        since_shift_seconds=900,
        bake_time_seconds=600,
        max_bake_time_seconds=3600,
        wait_interval_seconds=300,
        at_last_step=False,
    )
    return Situation(**{**values, **overrides})


def test_promotes_only_after_the_bake_time_on_the_candidate():
    assert next_action(situation()).action == "complete"
    early = next_action(situation(elapsed_seconds=300))
    assert early.action == "wait" and "baking 600 s before promotion (300 s so far)" in early.reason


def test_native_keeps_judging_while_sagemaker_shifts_traffic():
    assert next_action(situation(endpoint=BUSY)).action == "wait"


@pytest.mark.parametrize("endpoint", [BUSY, ON_NEW])
def test_a_rollback_verdict_always_rolls_back(endpoint):
    decided = next_action(situation(decision="rollback", judge_reason="5xx up", endpoint=endpoint))
    assert (decided.action, decided.reason) == ("rollback", "judge: 5xx up")


def test_an_endpoint_sagemaker_returned_to_the_target_is_rolled_back():
    decided = next_action(situation(endpoint=ON_OLD))
    assert decided.action == "rollback" and "by itself" in decided.reason


def test_a_failed_endpoint_is_rolled_back():
    failed = EndpointView(name="e", status="Failed", config_name="new", failure_reason="boom")
    assert next_action(situation(endpoint=failed)).reason == "endpoint is Failed on new: boom"


def test_an_endpoint_changed_by_someone_else_stops_the_rollout():
    other = EndpointView(name="e", status="InService", config_name="cdk-config")
    with pytest.raises(RolloutError, match="serves cdk-config, neither the rollback target"):
        next_action(situation(endpoint=other))


def test_undecided_at_the_maximum_bake_time_is_stuck_and_rolled_back():
    decided = next_action(situation(decision="continue", elapsed_seconds=3600))
    assert (decided.action, decided.stuck) == ("rollback", True)
    assert "undecided after 3600 s" in decided.reason


def test_a_veto_rolls_back_whatever_the_judge_has_not_said():
    vetoed = next_action(situation(decision="continue", endpoint=BUSY, veto="veto: 10% to 100%"))
    assert vetoed.action == "rollback" and not vetoed.stuck
    assert vetoed.reason == "veto: 10% to 100%; judge: continue: all 3 metrics shown non-inferior"


def test_a_rollback_verdict_and_being_stuck_come_before_a_veto():
    verdict = next_action(situation(decision="rollback", judge_reason="5xx up", veto="veto"))
    assert verdict.reason == "judge: 5xx up"
    stuck = next_action(situation(decision="continue", elapsed_seconds=3600, veto="veto"))
    assert stuck.stuck


def test_ab_advances_after_each_step_has_baked_and_completes_after_the_last():
    ab = situation(kind="ab", candidate_config="new")
    assert next_action(replace(ab, since_shift_seconds=100)).action == "wait"
    assert next_action(ab).action == "advance"
    assert next_action(replace(ab, elapsed_seconds=120, since_shift_seconds=300)).action == (
        "advance"  # shifting more traffic needs only the step's wait, not the whole bake
    )
    assert next_action(replace(ab, at_last_step=True)).action == "complete"
    assert next_action(replace(ab, at_last_step=True, elapsed_seconds=300)).action == "wait"


@given(
    decision=st.sampled_from(["continue", "rollback"]),
    kind=st.sampled_from(["native", "ab", "shadow"]),
    elapsed=st.floats(0, 10_000),
    status=st.sampled_from(["InService", "Updating", "SystemUpdating", "RollingBack"]),
)
def test_nothing_but_a_promote_verdict_moves_a_rollout_forward(decision, kind, elapsed, status):
    endpoint = EndpointView(name="e", status=status, config_name="new")
    decided = next_action(
        situation(decision=decision, kind=kind, elapsed_seconds=elapsed, endpoint=endpoint)
    )
    assert decided.action in ("wait", "rollback")
