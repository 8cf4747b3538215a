"""Whole rollouts with no users at all, deciding on the replayed test data (issue 12's "Done when").

The shipped staging environment (A/B at 50%, replay at 120 requests a minute) runs against the
simulated SageMaker with zero external traffic: every request the judge sees is one the Replay
step sent through the endpoint's routing, and every answer is scored against its row's label.
"""

from __future__ import annotations

import pytest

from guardrails import records
from guardrails.config import EnvironmentConfig, default_config
from guardrails.release import evidence_message
from guardrails.release.evidence_message import EvidenceContext
from guardrails.rollout import ending
from guardrails.rollout.endpoint_configs import CANDIDATE_VARIANT
from guardrails.rollout.metrics import LABELLED_ACCURACY
from tests.unit.rollout.doubles import LIVE_CONFIG, World, shipped_world
from tests.unit.rollout.sagemaker_sim import ModelProfile, SimulatedSageMaker, installed
from tests.unit.rollout.state_machine_driver import Driver

SHIPPED = default_config({"prod": {"account": "111111111111", "region": "eu-west-1"}})
STAGING = SHIPPED.environment("staging")
DEV = SHIPPED.environment("dev")


def staging(
    monkeypatch,
    *,
    candidate: ModelProfile,
    baseline: ModelProfile | None = None,
    endpoint: dict | None = None,
    shipped: EnvironmentConfig = STAGING,
    requests_per_minute: float = 0,
) -> tuple[World, SimulatedSageMaker]:
    """A shipped environment (staging: no external traffic), the candidate profiled."""
    world = shipped_world(monkeypatch, shipped, endpoint=endpoint)
    sim = installed(
        world,
        monkeypatch,
        requests_per_minute=requests_per_minute,
        baseline=baseline or ModelProfile(),
        candidate=candidate,
    )
    return world, sim


def judge_rounds(world: World) -> list[dict]:
    decisions = records.list_decisions(world.table, "d-1", limit=1000)
    return [d for d in decisions if d["decided_by"] == "judge"]


def metric(round_: dict, name: str) -> dict | None:
    """A recorded proportion metric with each arm's events and trials summed over its minutes."""
    metrics = round_["details"]["request"]["metrics"]
    found = next((m for m in metrics if m["name"] == name), None)
    if found is None:
        return None
    arms = {arm: [m[arm] for m in found["minutes"] if m[arm]] for arm in ("baseline", "canary")}
    return {
        **found,
        **{
            arm: {key: sum(a[key] for a in given) for key in ("events", "trials")}
            for arm, given in arms.items()
        },
    }


def test_staging_replays_120_a_minute_and_nothing_else_reaches_the_endpoint():
    assert STAGING.traffic.expected_requests_per_minute == 0
    assert STAGING.traffic.replay_requests_per_minute == 120
    assert STAGING.deployment.strategy == "ab"
    assert SHIPPED.environment("dev").traffic.replay_requests_per_minute == 120


def test_prod_replays_nothing_by_default():
    assert SHIPPED.environment("prod").traffic.replay_requests_per_minute == 0
    assert not SHIPPED.environment("prod").traffic.replays


def test_a_healthy_model_is_promoted_on_replayed_rows_alone_with_the_accuracy_compared(
    aws, monkeypatch
):
    world, sim = staging(monkeypatch, candidate=ModelProfile())
    driver = Driver(world, sim)
    run = driver.run()

    assert run.result == "PROMOTED"
    rounds = judge_rounds(world)
    final = next(r for r in rounds if r["details"]["action"] == "complete")
    assert final["details"]["elapsed_seconds"] < STAGING.judge.max_bake_time_seconds
    # The decision record compares both models' labelled accuracy on the replayed rows.
    accuracy = metric(final, LABELLED_ACCURACY)
    assert accuracy is not None
    assert accuracy["baseline"]["trials"] > 1000 and accuracy["canary"]["trials"] > 1000
    for arm in ("baseline", "canary"):
        assert accuracy[arm]["events"] / accuracy[arm]["trials"] == pytest.approx(0.9, abs=0.03)
    judged = {m["name"]: m["decision"] for m in final["details"]["response"]["metrics"]}
    assert judged[LABELLED_ACCURACY] == "promote"
    # Every round records what its replay sent; the replay took no real user's place.
    replay = final["details"]["replay"]
    assert replay["planned"] == 120 and replay["sent"] == 120 and replay["unsent"] == 0
    assert replay["answered"] + replay["failed"] + replay["throttled"] == replay["sent"]
    assert replay["accuracy_published"] is True
    assert set(replay["labelled"]) == {"AllTraffic", CANDIDATE_VARIANT}
    # The replay runs only in the judge loop: one round before each verdict, none after the
    # promotion (every request the endpoint got was one of theirs, but the smoke test's).
    assert len(driver.replays) == len(rounds)
    assert len(sim.invocations) == sum(r.sent for r in driver.replays) + 1
    assert {variant for _, variant, _ in sim.invocations} == {"AllTraffic", CANDIDATE_VARIANT}
    # What the execution returns carries these numbers to the approvers of prod.
    evidence = ending.rollout_evidence(driver.state, world.ctx)
    assert evidence.judge is not None and evidence.replay is not None
    assert (evidence.result, evidence.judge.decision) == ("PROMOTED", "promote")
    assert evidence.replay.totals.sent == sum(r.sent for r in driver.replays)
    _, text = evidence_message.message(
        evidence, EvidenceContext(environment="staging", approves="prod", execution_arn="")
    )
    (row,) = [line.split() for line in text.splitlines() if line.startswith(LABELLED_ACCURACY)]
    assert row[-1] == "promote" and float(row[1]) == pytest.approx(0.9, abs=0.03)


def test_a_3_percent_error_rate_against_1_percent_is_rolled_back(aws, monkeypatch):
    world, sim = staging(
        monkeypatch,
        baseline=ModelProfile(error_rate=0.01),
        candidate=ModelProfile(error_rate=0.03),
        endpoint={"max_5xx_error_rate": 0.05},  # SageMaker's alarm stays blind: the judge acts
    )
    run = Driver(world, sim).run()

    assert run.result == "ROLLED_BACK"
    assert f"{sim.status} on {sim.config_name}" == f"InService on {LIVE_CONFIG}"
    last = judge_rounds(world)[0]  # newest first
    assert last["details"]["action"] == "rollback"
    assert "error_rate_5xx" in last["details"]["response"]["reason"]
    # The candidate's 5xx were answered to the replay, counted as failed, never as a promote.
    assert sum(r["details"]["replay"]["failed"] for r in judge_rounds(world)) > 0
    assert all(r["details"]["action"] != "complete" for r in judge_rounds(world))


def test_a_model_worse_by_more_than_the_accuracy_margin_is_rolled_back_on_the_labels(
    aws, monkeypatch
):
    world, sim = staging(monkeypatch, candidate=ModelProfile(accuracy=0.75))
    run = Driver(world, sim).run()

    assert run.result == "ROLLED_BACK"
    last = judge_rounds(world)[0]
    assert last["details"]["response"]["reason"].startswith(f"{LABELLED_ACCURACY}: regression")


def test_dev_judges_its_few_users_and_the_replay_but_cannot_attribute_accuracy(aws, monkeypatch):
    """Dev: all-at-once with 60 real requests a minute and 120 replayed."""
    world, sim = staging(monkeypatch, candidate=ModelProfile(), shipped=DEV, requests_per_minute=60)
    run = Driver(world, sim).run()

    assert run.result == "PROMOTED"
    final = next(r for r in judge_rounds(world) if r["details"]["action"] == "complete")
    assert metric(final, LABELLED_ACCURACY) is None  # both fleets answer as AllTraffic
    assert metric(final, "error_rate_5xx")["canary"]["trials"] > 100
    replay = final["details"]["replay"]
    assert replay["accuracy_published"] is False
    assert "not published" in replay["note"]
    assert set(replay["labelled"]) == {"AllTraffic"}
