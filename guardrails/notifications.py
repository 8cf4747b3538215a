"""On-call messages about a rollout: one format, readable in an e-mail, with the facts as JSON.

Pure: a RolloutEvent goes in, a Message (subject, text, facts) comes out; services/sns.py sends it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any
from urllib.parse import quote

STARTED = "started"
PROMOTED = "promoted"
ROLLED_BACK = "rolled_back"
ROLLBACK_REQUESTED = "rollback_requested"
FAILED = "failed"
STUCK = "stuck"
UNLOCKED = "unlocked"
DEPLOY_LEFT = "deploy_left"  # a `cdk deploy` left the endpoint as it was (guardrails.endpoint)

_HEADLINES = {
    STARTED: ("Rollout started", "A new model is being rolled out behind the guardrails."),
    PROMOTED: ("Rollout promoted", "The judge found no regression; the new model serves."),
    ROLLED_BACK: ("Rollout rolled back", "The endpoint serves the previous endpoint config again."),
    ROLLBACK_REQUESTED: (
        "Rollback requested",
        "An operator asked for the endpoint to return to an earlier endpoint config.",
    ),
    FAILED: ("Rollout FAILED", "The rollout stopped on an error; read the reason and the record."),
    STUCK: (
        "Rollout stuck",
        "The rollout ran out of time (the judge could not decide, or the execution timed "
        "out); the candidate is taken out.",
    ),
    UNLOCKED: (
        "Lock released",
        "An operator released a rollout's lock on the endpoint; that rollout no longer holds it.",
    ),
    DEPLOY_LEFT: (
        "cdk deploy left the endpoint alone",
        "CloudFormation deployed the endpoint stack but changed nothing on the endpoint; read "
        "the reason, and deploy again once it no longer holds.",
    ),
}
EVENT_KINDS = tuple(_HEADLINES)

SUBJECT_LIMIT = 99  # SNS: under 100 ASCII characters, no line breaks
FACTS_LIMIT = 16_000  # bytes of the `facts` attribute; SNS allows 256 KiB for the whole message
_REASON_LIMIT = 2_000


@dataclass(frozen=True, kw_only=True)
class MetricRow:
    """One metric as the judge saw it: both arms, their difference and the decision."""

    name: str
    baseline: float | None = None
    canary: float | None = None
    n_baseline: int = 0
    n_canary: int = 0
    difference: float | None = None
    ci: tuple[float | None, float | None] | None = None
    p_value: float | None = None
    decision: str = ""


@dataclass(frozen=True, kw_only=True)
class RolloutEvent:
    """Something on-call should know about one rollout."""

    kind: str
    environment: str
    endpoint_name: str
    region: str = ""
    deployment_id: str = ""
    model_package_arn: str = ""
    strategy: str = ""
    started_by: str = ""
    previous_config: str = ""  # the rollback target
    new_config: str = ""
    serving_config: str = ""  # what the endpoint serves now, when known
    decision: str = ""
    reason: str = ""
    metrics: tuple[MetricRow, ...] = ()
    execution_arn: str = ""
    at: str = ""

    def __post_init__(self) -> None:
        if self.kind not in _HEADLINES:
            raise ValueError(f"kind: must be one of {', '.join(EVENT_KINDS)} (got {self.kind!r})")


@dataclass(frozen=True)
class Message:
    """An SNS message: subject, e-mail text and the same facts as JSON."""

    subject: str
    text: str
    facts: dict[str, Any] = field(default_factory=dict)

    def facts_json(self) -> str:
        return json.dumps(self.facts, sort_keys=True, separators=(",", ":"), default=str)


def console_links(region: str, endpoint_name: str, execution_arn: str = "") -> dict[str, str]:
    """Console pages of the endpoint and, when known, of the state machine execution."""
    if not region:
        return {}
    base = f"https://{region}.console.aws.amazon.com"
    links = {
        "endpoint": f"{base}/sagemaker/home?region={region}#/endpoints/{quote(endpoint_name)}",
    }
    if execution_arn:
        links["execution"] = (
            f"{base}/states/home?region={region}#/v2/executions/details/{quote(execution_arn)}"
        )
    return links


def metric_rows(request: Mapping[str, Any], response: Mapping[str, Any]) -> tuple[MetricRow, ...]:
    """Join the judge's request (both arms' numbers) with its per-metric results."""
    arms = {metric.get("name"): metric for metric in request.get("metrics", [])}
    rows = []
    for result in response.get("metrics", []):
        sent = arms.get(result.get("name"), {})
        ci = result.get("ci")
        # The judge reports each arm's value; requests in the per-minute form have no totals.
        rows.append(
            MetricRow(
                name=str(result.get("name", "")),
                baseline=result.get("baseline_value", _arm_value(sent.get("baseline"))),
                canary=result.get("canary_value", _arm_value(sent.get("canary"))),
                n_baseline=int(result.get("n_baseline") or 0),
                n_canary=int(result.get("n_canary") or 0),
                difference=result.get("estimate"),
                ci=(ci[0], ci[1]) if isinstance(ci, Sequence) and len(ci) == 2 else None,
                p_value=result.get("p_value"),
                decision=str(result.get("decision", "")),
            )
        )
    return tuple(rows)


def _arm_value(arm: Any) -> float | None:
    if not isinstance(arm, Mapping):
        return None
    if "trials" in arm:
        trials = arm.get("trials") or 0
        return (arm.get("events") or 0) / trials if trials else None
    return arm.get("mean") if arm.get("n") else None


def render(event: RolloutEvent) -> Message:
    """Subject, text and facts of an event."""
    headline, meaning = _HEADLINES[event.kind]
    subject = _ascii(f"[Guardrails {event.environment}] {headline}: {event.endpoint_name}")
    links = console_links(event.region, event.endpoint_name, event.execution_arn)
    lines = [f"{headline} on {event.endpoint_name} ({event.environment})", "", meaning, ""]
    if event.reason:
        lines += [f"Reason: {event.reason}", ""]
    details = [
        ("Endpoint", event.endpoint_name),
        ("Model package", event.model_package_arn),
        ("Strategy", event.strategy),
        ("Deployment", event.deployment_id),
        ("Started by", event.started_by),
        ("Decision", event.decision),
        ("Rollback target", event.previous_config),
        ("New config", event.new_config),
        ("Serving now", event.serving_config),
        ("At", event.at),
    ]
    width = max(len(label) for label, _ in details) + 2
    lines += [f"{label + ':':<{width}}{value}" for label, value in details if value]
    if event.metrics:
        lines += ["", "Metrics (baseline vs new model, cumulative since the rollout began):"]
        lines += metric_table(event.metrics)
    if links:
        lines += [""] + [f"{name.capitalize()} console: {url}" for name, url in links.items()]
    lines += ["", 'The same facts are in the message attribute "facts" as JSON.']
    return Message(subject=subject, text="\n".join(lines), facts=_facts(event, links))


def metric_table(rows: Sequence[MetricRow]) -> list[str]:
    """The judge's numbers as aligned text lines, a header first."""
    header = ("metric", "baseline", "new", "n baseline/new", "difference", "ci", "p", "decision")
    table = [header] + [
        (
            row.name,
            _number(row.baseline),
            _number(row.canary),
            f"{row.n_baseline}/{row.n_canary}",
            _number(row.difference, signed=True),
            f"[{_number(row.ci[0])}, {_number(row.ci[1])}]" if row.ci else "-",
            _number(row.p_value),
            row.decision or "-",
        )
        for row in rows
    ]
    return aligned(table)


def aligned(table: Sequence[Sequence[str]]) -> list[str]:
    """Rows of cells as text lines, each column as wide as its widest cell."""
    widths = [max(len(line[i]) for line in table) for i in range(len(table[0]))]
    return ["  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip()
            for line in table]  # fmt: skip


def _number(value: float | None, signed: bool = False) -> str:
    if value is None:
        return "-"
    return f"{value:+.4g}" if signed else f"{value:.4g}"


def _facts(event: RolloutEvent, links: dict[str, str]) -> dict[str, Any]:
    facts = {**asdict(event), "links": links}
    facts["metrics"] = [asdict(row) for row in event.metrics]
    if len(json.dumps(facts, default=str)) > FACTS_LIMIT:
        # Keep the decision and its reason; drop the table first.
        shorter = replace(event, metrics=(), reason=event.reason[:_REASON_LIMIT])
        facts = {**asdict(shorter), "links": links, "metrics_truncated": True}
    return facts


def _ascii(text: str) -> str:
    clean = "".join(ch if 32 <= ord(ch) < 127 else "?" for ch in text)
    return clean if len(clean) <= SUBJECT_LIMIT else clean[: SUBJECT_LIMIT - 3] + "..."
