"""What the approvers of prod read: staging's evidence as a message, and as a one-line summary.

The message goes to the approvers' topic before CodePipeline asks for the approval: the judge's
table of the latest round, the replay's counts, the outcome and where the record is. The summary
becomes the approval request's custom data (CodePipeline's action configuration values are at
most 1,000 characters; the project keeps CustomData within 500), so it is cut to
SUMMARY_LIMIT. Pure: no AWS calls.
"""

from __future__ import annotations

from dataclasses import dataclass

from guardrails.notifications import aligned, console_links, metric_table
from guardrails.release.evidence import JudgeEvidence, ReplayCounts, ReplayEvidence, RolloutEvidence
from guardrails.release.rules import promotion_stage

SUMMARY_LIMIT = 350  # characters: the rest of the approval's CustomData is fixed text
SUBJECT_LIMIT = 100  # SNS e-mail subjects


@dataclass(frozen=True, kw_only=True)
class EvidenceContext:
    """Where the evidence comes from and what it is for."""

    environment: str  # whose rollout it is (staging)
    approves: str  # the environment the approval is for (prod)
    execution_arn: str  # the rollout execution that returned it
    pipeline_name: str = ""
    pipeline_execution_id: str = ""


def execution_link(execution_arn: str) -> str:
    """The Step Functions console page of an execution (in the account that ran it)."""
    parts = execution_arn.split(":")
    region = parts[3] if len(parts) > 3 else ""
    return console_links(region, "", execution_arn).get("execution", "")


def summary(evidence: RolloutEvidence, environment: str) -> str:
    """One line: outcome, each metric's arms and verdict, the replay's totals (SUMMARY_LIMIT)."""
    head = f"{environment} {evidence.result} (deployment {evidence.deployment_id})"
    parts = [_judge_summary(evidence)]
    if evidence.replay is not None:
        totals = evidence.replay.totals
        parts.append(
            f"replay {totals.sent} sent, {totals.answered} answered, {totals.failed} failed, "
            f"{totals.throttled} throttled in {evidence.replay.rounds_counted} rounds"
        )
    text = f"{head}: " + "; ".join(parts)
    return text if len(text) <= SUMMARY_LIMIT else text[: SUMMARY_LIMIT - 3] + "..."


def _judge_summary(evidence: RolloutEvidence) -> str:
    judge = evidence.judge
    if judge is None:
        return "the judge recorded no round"
    metrics = ", ".join(
        f"{m.name} {_number(m.baseline)} vs {_number(m.candidate)} {m.decision or '-'}"
        for m in judge.metrics
    )
    verdict = f"judge {judge.decision} after {judge.rounds} rounds"
    return f"{verdict}: {metrics}" if metrics else verdict


def message(evidence: RolloutEvidence, context: EvidenceContext) -> tuple[str, str]:
    """The subject and text of the evidence message to the approvers."""
    env, target = context.environment, context.approves
    version = evidence.model_package_arn.rsplit("/", 1)[-1]
    # Environment names and the outcome are ASCII words, the version a number.
    subject = f"[Guardrails] Approve {target}? {env}: {evidence.result}, version {version}"
    lines = [
        f"Approve {target} on {env}'s evidence",
        "",
        f"Model package {evidence.model_package_arn} was rolled out to {env}: {evidence.result}.",
    ]
    if evidence.reason:
        lines.append(f"Reason: {evidence.reason}")
    lines += ["", *_judge_lines(evidence.judge, evidence.first_deploy)]
    lines += ["", *_replay_lines(evidence.replay)]
    pipeline = (
        f" of {context.pipeline_name} execution {context.pipeline_execution_id}"
        if context.pipeline_name
        else ""
    )
    lines += [
        "",
        "The record:",
        f"  {env} rollout execution (Step Functions console, {env}'s account): "
        f"{execution_link(context.execution_arn)}",
        f"  deployment {evidence.deployment_id}: guardrails history --env {env}, "
        f"guardrails status --env {env}",
        "",
        f"CodePipeline asks for the approval in a separate message (stage "
        f"{promotion_stage(target)}{pipeline}). Approving rolls this model out to {target}, "
        f"guarded like {env}; rejecting stops this pipeline execution here.",
    ]
    return subject[:SUBJECT_LIMIT], "\n".join(lines)


def _judge_lines(judge: JudgeEvidence | None, first_deploy: bool) -> list[str]:
    if judge is None:
        return ["The judge recorded no round for this rollout: there are no numbers to show."]
    lines = [
        f"The judge's latest round ({judge.rounds} rounds, recorded {judge.decided_at}): "
        f"{judge.decision}. {judge.reason}".rstrip(),
    ]
    if first_deploy:
        lines.append(
            "A first deploy: nothing served before, so there is no baseline; the judge held the "
            "new model to the limits alone."
        )
    if judge.metrics:
        lines += [
            "Baseline vs new model, cumulative since the rollout began; ci is the always-valid "
            "interval of the difference:",
            *metric_table([metric.row() for metric in judge.metrics]),
        ]
    return lines


def _replay_lines(replay: ReplayEvidence | None) -> list[str]:
    if replay is None:
        return ["No test data was replayed (traffic.replay_requests_per_minute is 0 here): the "
                "judge saw real traffic only."]  # fmt: skip
    listed = len(replay.rounds)
    header = ("judge round at", "sent", "answered", "failed", "throttled", "unsent")
    table: list[tuple[str, ...]] = [header]
    table += [_counts_row(counts.at or "-", counts) for counts in replay.rounds]
    table.append(_counts_row(f"total, {replay.rounds_counted} rounds", replay.totals))
    lines = [
        f"Replayed test data per judge round (the latest {listed} of {replay.rounds_counted} "
        "listed):",
        *aligned(table),
    ]
    if replay.labelled:
        accuracy = "; ".join(
            f"{c.variant} {c.correct} of {c.total}"
            + (f" ({100 * c.correct / c.total:.1f}%)" if c.total else "")
            for c in replay.labelled
        )
        lines.append(f"Answered right on the replayed rows' labels: {accuracy}")
    return lines


def _counts_row(label: str, counts: ReplayCounts) -> tuple[str, ...]:
    values = (counts.sent, counts.answered, counts.failed, counts.throttled, counts.unsent)
    return (label, *(str(value) for value in values))


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.4g}"
