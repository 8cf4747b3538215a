"""On-call messages: readable in an e-mail, same facts as JSON, within SNS limits."""

from __future__ import annotations

import json

import pytest

from guardrails.notifications import (
    FACTS_LIMIT,
    MetricRow,
    RolloutEvent,
    console_links,
    metric_rows,
    render,
)

ROWS = (
    MetricRow(
        name="error_rate_5xx",
        baseline=0.001,
        canary=0.1,
        n_baseline=4500,
        n_canary=500,
        difference=0.099,
        ci=(0.07, 0.13),
        p_value=1.4e-37,
        decision="rollback",
    ),
)


def event(**overrides) -> RolloutEvent:
    values = dict(
        kind="rolled_back",
        environment="prod",
        region="eu-west-1",
        endpoint_name="guardrails-prod",
        deployment_id="model-42",
        model_package_arn="arn:aws:sagemaker:eu-west-1:111111111111:model-package/g/42",
        strategy="canary",
        previous_config="EndpointConfig-old",
        new_config="guardrails-prod-abc-c",
        serving_config="EndpointConfig-old",
        decision="rollback",
        reason="judge: error_rate_5xx: regression: canary - baseline = 0.099",
        metrics=ROWS,
        execution_arn="arn:aws:states:eu-west-1:111111111111:execution:sm:model-42",
    )
    return RolloutEvent(**{**values, **overrides})


def test_the_text_tells_what_happened_why_with_the_numbers_and_links():
    message = render(event())
    assert message.subject == "[Guardrails prod] Rollout rolled back: guardrails-prod"
    text = message.text
    assert "Reason: judge: error_rate_5xx: regression" in text
    assert "Rollback target: EndpointConfig-old" in text
    table_row = next(line for line in text.splitlines() if line.startswith("error_rate_5xx"))
    for cell in ("0.001", "0.1", "4500/500", "+0.099", "[0.07, 0.13]", "1.4e-37", "rollback"):
        assert cell in table_row
    assert (
        "Endpoint console: https://eu-west-1.console.aws.amazon.com/sagemaker/home"
        "?region=eu-west-1#/endpoints/guardrails-prod" in text
    )
    assert "Execution console: https://eu-west-1.console.aws.amazon.com/states/" in text


def test_the_facts_carry_the_same_information_as_json():
    facts = json.loads(render(event()).facts_json())
    assert facts["kind"] == "rolled_back" and facts["previous_config"] == "EndpointConfig-old"
    assert facts["metrics"][0]["canary"] == 0.1
    assert facts["links"]["endpoint"].endswith("#/endpoints/guardrails-prod")


def test_subjects_are_short_ascii_lines():
    subject = render(event(endpoint_name="e" * 63, environment="prod\u00e9")).subject
    assert len(subject) < 100 and subject.isascii() and "\n" not in subject


def test_huge_facts_drop_the_table_but_keep_the_decision():
    many = tuple(MetricRow(name=f"metric_{i:03d}_" + "x" * 40) for i in range(400))
    message = render(event(metrics=many, reason="r" * 10_000))
    assert len(message.facts_json()) <= FACTS_LIMIT
    assert message.facts["metrics_truncated"] is True and message.facts["decision"] == "rollback"


@pytest.mark.parametrize(
    ("kind", "headline"),
    [("failed", "Rollout FAILED"), ("stuck", "Rollout stuck"), ("unlocked", "Lock released")],
)
def test_failures_and_lock_releases_read_like_every_other_event(kind, headline):
    message = render(event(kind=kind, decision="failed", reason="Judge failed; NOT verified"))
    assert message.subject == f"[Guardrails prod] {headline}: guardrails-prod"
    assert "Reason: Judge failed; NOT verified" in message.text
    assert "error_rate_5xx" in message.text  # the judge's latest numbers, as for a rollback


def test_unknown_kinds_are_refused():
    with pytest.raises(ValueError, match="kind: must be one of started, promoted"):
        event(kind="celebrated")


def test_no_region_no_links():
    assert console_links("", "e") == {}
    assert "console" not in render(event(region="")).text


def test_metric_rows_join_the_request_numbers_with_the_verdict():
    request = {
        "metrics": [
            {"name": "err", "baseline": {"events": 1, "trials": 1000}, "canary": None},
            {"name": "lat", "baseline": {"n": 10, "mean": 50.0, "std": 5}, "canary": {"n": 0}},
        ]
    }
    response = {
        "metrics": [
            {"name": "err", "decision": "continue", "n_baseline": 1000, "n_canary": 0},
            {"name": "lat", "decision": "continue", "ci": [None, 3.0], "p_value": 0.5},
        ]
    }
    err, lat = metric_rows(request, response)
    assert (err.baseline, err.canary, err.n_baseline) == (0.001, None, 1000)
    assert (lat.baseline, lat.canary, lat.ci) == (50.0, None, (None, 3.0))
