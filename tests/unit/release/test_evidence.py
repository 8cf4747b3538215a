"""A rollout's evidence: collected from its decision records, bounded, read back, rendered."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest

from guardrails.release import evidence_message
from guardrails.release.evidence import (
    EVIDENCE_LIMIT_BYTES,
    MAX_METRICS,
    MAX_ROUNDS_LISTED,
    EvidenceError,
    RolloutEvidence,
    collect,
    size_of,
)
from guardrails.release.evidence_message import SUMMARY_LIMIT, EvidenceContext

PACKAGE = "arn:aws:sagemaker:us-east-1:222222222222:model-package/guardrails-dev/7"
EXECUTION = (
    "arn:aws:states:us-east-1:222222222222:execution:guardrails-staging-rollout:pipeline-staging-1"
)
CONTEXT = EvidenceContext(environment="staging", approves="prod", execution_arn=EXECUTION)


def judge_round(
    at: str,
    *,
    decision: str = "promote",
    metrics: int = 2,
    baseline: bool = True,
    replay: dict[str, Any] | None = None,
    name: str = "error_rate",
) -> dict[str, Any]:
    """A judge decision as records.list_decisions returns it."""
    names = [f"{name}_{i}" if i else name for i in range(metrics)]
    request = {
        "metrics": [
            {
                "name": n,
                "baseline": {"events": 10, "trials": 1000} if baseline else None,
                "canary": {"events": 4, "trials": 800},
            }
            for n in names
        ]
    }
    response = {
        "metrics": [
            {
                "name": n,
                "n_baseline": 1000 if baseline else 0,
                "n_canary": 800,
                "estimate": -0.005 if baseline else None,
                "ci": [-0.011, 0.001] if baseline else None,
                "p_value": 0.04 if baseline else None,
                "decision": decision,
            }
            for n in names
        ]
    }
    details: dict[str, Any] = {"request": request, "response": response}
    if replay is not None:
        details["replay"] = replay
    return {
        "decided_by": "judge",
        "decision": decision,
        "reason": "every metric is at least as good",
        "decided_at": at,
        "details": details,
    }


def replayed(sent: int, failed: int = 0, **labelled: tuple[int, int]) -> dict[str, Any]:
    return {
        "sent": sent,
        "answered": sent - failed,
        "failed": failed,
        "throttled": 0,
        "unsent": 0,
        "labelled": {v: {"correct": c, "total": t} for v, (c, t) in labelled.items()},
    }


def collected(decisions: list[dict[str, Any]], **overrides: Any) -> RolloutEvidence:
    values: dict[str, Any] = {
        "deployment_id": "pipeline-staging-1",
        "model_package_arn": PACKAGE,
        "result": "PROMOTED",
        "reason": "the judge promoted",
        "judge_rounds": len([d for d in decisions if d.get("decided_by") == "judge"]),
    }
    return collect(decisions, **{**values, **overrides})


def test_the_latest_judge_round_and_every_rounds_replay_counts_are_collected():
    decisions = [  # newest first, as recorded
        {"decided_by": "rollout", "decision": "promoted", "reason": "done", "details": {}},
        judge_round("t3", replay=replayed(120, failed=2, AllTraffic=(110, 118))),
        judge_round("t2", decision="continue", replay=replayed(120, AllTraffic=(100, 120))),
        judge_round("t1", decision="continue"),  # before the replay began
    ]
    evidence = collected(decisions)
    assert evidence.judge is not None
    assert (evidence.judge.decided_at, evidence.judge.decision, evidence.judge.rounds) == (
        "t3",
        "promote",
        3,
    )
    metric = evidence.judge.metrics[0]
    assert (metric.baseline, metric.candidate) == (0.01, 0.005)
    assert (metric.n_baseline, metric.n_candidate, metric.ci_low, metric.ci_high) == (
        1000,
        800,
        -0.011,
        0.001,
    )
    assert evidence.replay is not None
    assert evidence.replay.rounds_counted == 2
    assert (evidence.replay.totals.sent, evidence.replay.totals.failed) == (240, 2)
    assert [r.at for r in evidence.replay.rounds] == ["t2", "t3"]  # oldest first
    ((labelled,),) = [evidence.replay.labelled]
    assert (labelled.variant, labelled.correct, labelled.total) == ("AllTraffic", 210, 238)


def test_the_evidence_survives_the_execution_output():
    evidence = collected([judge_round("t1", replay=replayed(60, AllTraffic=(50, 60)))])
    output = json.dumps({"result": "PROMOTED", "evidence": evidence.to_event()})
    assert RolloutEvidence.of_output(output) == evidence


def test_a_huge_record_is_bounded_and_keeps_the_totals():
    decisions = [
        judge_round(
            f"2026-11-27T10:{i:02d}:00+00:00",
            metrics=40,
            name="m" * 200,
            replay=replayed(120, failed=1, **{f"Variant{v}": (1, 2) for v in range(9)}),
        )
        for i in range(60)
    ]
    evidence = collected(decisions, reason="x" * 5000)
    assert size_of(evidence) <= EVIDENCE_LIMIT_BYTES
    assert evidence.judge is not None and 0 < len(evidence.judge.metrics) <= MAX_METRICS
    assert evidence.replay is not None
    assert evidence.replay.totals.sent == 60 * 120  # totals count every round
    assert len(evidence.replay.rounds) <= MAX_ROUNDS_LISTED
    assert RolloutEvidence.of_output(json.dumps({"evidence": evidence.to_event()})) == evidence


def test_numbers_json_cannot_carry_become_unknown():
    decision = judge_round("t1")
    decision["details"]["response"]["metrics"][0]["p_value"] = math.nan
    decision["details"]["response"]["metrics"][0]["estimate"] = math.inf
    metric = collected([decision]).judge.metrics[0]  # type: ignore[union-attr]
    assert (metric.p_value, metric.difference) == (None, None)
    json.dumps(collected([decision]).to_event(), allow_nan=False)


def test_a_rollout_without_judge_rounds_says_so():
    evidence = collected([], result="PROMOTED", reason="first deploy promoted on limits")
    assert (evidence.judge, evidence.replay) == (None, None)
    subject, text = evidence_message.message(evidence, CONTEXT)
    assert "The judge recorded no round" in text
    assert "No test data was replayed" in text
    assert "the judge recorded no round" in evidence_message.summary(evidence, "staging")


def test_a_first_deploy_shows_no_baseline():
    evidence = collected([judge_round("t1", baseline=False)], first_deploy=True)
    metric = evidence.judge.metrics[0]  # type: ignore[union-attr]
    assert (metric.baseline, metric.n_baseline, metric.difference) == (None, 0, None)
    _, text = evidence_message.message(evidence, CONTEXT)
    assert "there is no baseline" in text
    assert "error_rate - vs 0.005 promote" in evidence_message.summary(evidence, "staging")


def test_the_message_carries_the_judges_table_replay_counts_and_the_record():
    evidence = collected([judge_round("t1", replay=replayed(120, failed=3, AllTraffic=(9, 10)))])
    subject, text = evidence_message.message(evidence, CONTEXT)
    assert subject.startswith("[Guardrails] Approve prod? staging: PROMOTED, version 7")
    table = text[text.index("metric  ") :].splitlines()
    assert table[0].split() == [
        "metric", "baseline", "new", "n", "baseline/new", "difference", "ci", "p", "decision"
    ]  # fmt: skip
    assert table[1].split() == [
        "error_rate", "0.01", "0.005", "1000/800", "-0.005", "[-0.011,", "0.001]", "0.04", "promote"
    ]  # fmt: skip
    assert "total, 1 rounds  120   117       3" in text
    assert "AllTraffic 9 of 10 (90.0%)" in text
    assert "states/home?region=us-east-1#/v2/executions/details/" in text
    assert "guardrails history --env staging" in text and "pipeline-staging-1" in text


def test_the_summary_fits_the_approvals_custom_data():
    evidence = collected(
        [judge_round("t1", metrics=MAX_METRICS, name="latency_p99", replay=replayed(120))]
    )
    summary = evidence_message.summary(evidence, "staging")
    assert len(summary) == SUMMARY_LIMIT and summary.endswith("...")
    assert summary.startswith("staging PROMOTED (deployment pipeline-staging-1): judge promote")


@pytest.mark.parametrize(
    ("output", "field"),
    [
        ("", "output.evidence: missing"),
        ("not json", "output: not JSON"),
        ('{"result": "PROMOTED"}', "output.evidence: missing"),
        ('{"evidence": []}', "output.evidence: must be an object"),
        ('{"evidence": {"deployment_id": "d", "result": "PROMOTED", "reason": ""}}',
         "model_package_arn"),
        ('{"evidence": {"deployment_id": "d", "model_package_arn": "p", "result": "PROMOTED", '
         '"reason": "", "judge": {"rounds": 1, "decided_at": "", "decision": "", "reason": "", '
         '"metrics": [{"name": "e", "n_baseline": "many"}]}}}',
         "output.evidence.judge.metrics[0]"),
    ],
)  # fmt: skip
def test_malformed_evidence_is_refused_naming_the_field(output, field):
    with pytest.raises(EvidenceError, match=field.replace("[", r"\[").replace("]", r"\]")):
        RolloutEvidence.of_output(output)
