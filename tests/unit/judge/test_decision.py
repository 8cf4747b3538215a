"""guardrails.judge.decision.evaluate: end-to-end decisions, missing data, documented schemas."""

from __future__ import annotations

import copy
import json
import math
import re
from pathlib import Path
from typing import Any

import pytest

from guardrails.judge import evaluate
from tests.unit.judge.builders import (
    ISSUE_REQUEST,
    decide,
    mean,
    mean_minutes,
    prop,
    prop_minutes,
    with_metric,
)

DOCS = Path(__file__).resolve().parents[3] / "docs" / "judge.md"


# --------------------------------------------------------------------------- end to end


def test_issue_example() -> None:
    req = copy.deepcopy(ISSUE_REQUEST)
    res = evaluate(req)
    assert req == ISSUE_REQUEST  # the request is not mutated
    assert set(res) == {"decision", "reason", "metrics"}
    err, lat = res["metrics"]
    # 2.8 ms slower on 612 requests with sd ~10 is a clear (if small) regression.
    assert lat["decision"] == "rollback"
    assert res["decision"] == "rollback"
    assert "latency_ms" in res["reason"] and "error_rate" not in res["reason"]
    assert err["decision"] == "continue"
    for m in res["metrics"]:
        assert {"name", "decision", "estimate", "ci", "p_value", "reason"} <= set(m)
        assert m["ci"][0] <= m["estimate"] <= m["ci"][1]
        assert 0.0 <= m["p_value"] <= 1.0
        assert m["alpha"] == pytest.approx(0.05 / 2 * 0.9)  # Bonferroni, 10% to the limit
    assert err["estimate"] == pytest.approx(9 / 612 - 57 / 11843)
    assert lat["estimate"] == pytest.approx(2.8)
    assert lat["p_value"] <= lat["alpha"] < err["p_value"]
    json.dumps(res, allow_nan=False)


def test_gross_failure_rolls_back_at_first_look_after_min_samples() -> None:
    metric = prop(19, 1900, 20, 100, limit=0.01)
    assert decide(metric) == "rollback"
    res = evaluate({"metrics": [metric]})
    assert "limit" in res["reason"] and "regression" in res["reason"]
    # ... but not before min_samples.
    assert decide(prop(19, 1900, 20, 99, limit=0.01)) == "continue"
    assert "min_samples" in evaluate({"metrics": [prop(19, 1900, 20, 99)]})["reason"]


def test_a_breach_the_baseline_does_not_share_rolls_back() -> None:
    # The canary is beyond the ceiling, the baseline well within it.
    res = evaluate({"metrics": [prop(50, 10000, 200, 2000, limit=0.05, margin=0.1)]})
    assert res["decision"] == "rollback"
    assert "above limit 0.05 where the baseline is not" in res["reason"]
    assert res["metrics"][0]["limit_p_value"] < 0.005


def test_a_breach_the_baseline_shares_is_not_the_canarys_fault() -> None:
    # Both fleets sit well above the ceiling (a shared outage): no rollback.
    res = evaluate({"metrics": [prop(1000, 10000, 200, 2000, limit=0.05)]})
    assert res["decision"] != "rollback"
    assert res["metrics"][0]["limit_p_value"] > 0.1


def test_floor_limit_for_accuracy() -> None:
    acc_bad = prop(18050, 19000, 850, 1000, margin=0.02, higher_is_worse=False, limit=0.9)
    assert decide(acc_bad) == "rollback"
    res = evaluate({"metrics": [acc_bad]})["metrics"][0]
    assert res["ci"][1] < 0  # accuracy dropped: canary - baseline is negative


def test_promote_when_equal_and_enough_data() -> None:
    res = evaluate(
        {
            "metrics": [
                prop(400, 40000, 50, 5000),
                mean((40000, 45.0, 24.0), (5000, 45.1, 24.0), margin=2.0),
            ]
        }
    )
    assert res["decision"] == "promote"
    for m in res["metrics"]:
        assert m["decision"] == "promote"
        assert m["ci"][1] < (0.005 if m["name"] == "error_rate" else 2.0)


def test_promote_blocked_by_point_estimate_above_limit() -> None:
    # Non-inferior (0.12 pp worse, margin 0.5 pp), but 1.12% is beyond a 1.05% ceiling by
    # more than its standard error (0.047 pp), where the baseline (1.0%) is within it.
    res = evaluate({"metrics": [prop(4000, 400000, 560, 50000, limit=0.0105)]})
    assert res["decision"] == "continue"
    assert "limit 0.0105 by more than its standard error" in res["metrics"][0]["reason"]
    # On the limit, like its baseline, the canary is not held back for ever ...
    assert decide(prop(4000, 400000, 505, 50000, limit=0.01)) == "promote"
    # ... nor when the baseline is beyond it too.
    assert decide(prop(4000, 400000, 560, 50000, limit=0.0095)) == "promote"


def test_one_unpromotable_metric_blocks_promotion() -> None:
    ok = prop(400, 40000, 50, 5000)
    unsure = mean((40000, 45.0, 24.0), (200, 45.0, 24.0), margin=2.0)
    res = evaluate({"metrics": [ok, unsure]})
    assert res["decision"] == "continue"
    assert "latency_ms" in res["reason"]


def test_improvement_never_rolls_back() -> None:
    assert decide(prop(400, 20000, 0, 2000)) != "rollback"
    assert decide(mean((20000, 45.0, 10.0), (2000, 30.0, 10.0))) == "promote"
    lower_worse = mean((20000, 0.90, 0.3), (2000, 0.99, 0.1), margin=0.01, higher_is_worse=False)
    assert decide(lower_worse) == "promote"


def test_zero_variance_does_not_crash() -> None:
    for metric in (
        prop(0, 2000, 0, 100),
        prop(0, 40000, 0, 5000),
        prop(2000, 2000, 100, 100),
        mean((1000, 40.0, 0.0), (100, 40.0, 0.0)),
        mean((1000, 40.0, 0.0), (100, 50.0, 0.0)),
        mean((1, 40.0, 0.0), (1, 40.0, 0.0)),
    ):
        res = evaluate({"metrics": [metric], "min_samples": 1})
        json.dumps(res, allow_nan=False)
        for v in (res["metrics"][0]["estimate"], res["metrics"][0]["p_value"]):
            assert math.isfinite(v)
    assert decide(prop(0, 40000, 0, 5000)) == "promote"
    assert decide(mean((1000, 40.0, 0.0), (100, 50.0, 0.0))) == "rollback"
    assert decide(prop(0, 2000, 0, 100)) == "continue"  # 0/100 cannot prove < 0.5 pp


# --------------------------------------------------------------------------- missing data


@pytest.mark.parametrize(
    ("request_", "words"),
    [
        ({}, "no metrics"),
        ({"metrics": []}, "no metrics"),
        ({"metrics": None}, "no metrics"),
        ({"metrics": [{"name": "e", "kind": "proportion", "margin": 0.01}]}, "baseline and canary"),
        ({"metrics": [prop(1, 100, 0, 0)]}, "canary has 0 trials"),
        ({"metrics": [{**prop(1, 100, 0, 0), "canary": None}]}, "canary missing"),
        ({"metrics": [{**prop(1, 100, 0, 0), "canary": {}}]}, "canary missing"),
        ({"metrics": [mean((0, 0.0, 0.0), (10, 1.0, 1.0))]}, "baseline has 0 samples"),
        ({"metrics": [{**mean((10, 1, 1), (10, 1, 1)), "baseline": {"n": 0}}]}, "baseline"),
    ],
)
def test_missing_data_continues_with_reason(request_: dict[str, Any], words: str) -> None:
    res = evaluate(request_)
    assert res["decision"] == "continue"
    assert words in res["reason"]


def test_missing_metric_never_promotes_but_others_can_roll_back() -> None:
    good = prop(400, 40000, 50, 5000)
    missing = {"name": "lat", "kind": "mean", "margin": 1.0}
    assert decide(good, missing) == "continue"
    bad = prop(400, 40000, 150, 5000)
    assert decide(bad, missing) == "rollback"


# --------------------------------------------------------------------------- schema


def _schemas() -> dict[str, Any]:
    text = DOCS.read_text()
    blocks = re.findall(r"```json\n(.*?)```", text, flags=re.S)
    found = {}
    for block in blocks:
        doc = json.loads(block)
        if isinstance(doc, dict) and "$schema" in doc:
            found[doc["title"]] = doc
    return found


def test_documented_schemas_accept_requests_and_responses() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    schemas = _schemas()
    req_schema, resp_schema = schemas["JudgeRequest"], schemas["JudgeResponse"]
    per_minute = {
        "warmup_minutes": 1,
        "metrics": [
            prop_minutes((9, 900, 1, 100), (8, 880, 0, 120), limit=0.01),
            mean_minutes((900, 50.0, 100, 51.0), (880, 49.0, 120, 52.0), limit=500),
        ],
    }
    per_minute["metrics"][0]["minutes"].append({"baseline": None, "canary": {}})
    for req in (ISSUE_REQUEST, {}, {"metrics": [prop(1, 100, 0, 0)]}, per_minute):
        jsonschema.validate(req, req_schema)
        jsonschema.validate(evaluate(req), resp_schema)
    for bad in (
        with_metric(0, canary__trials=-1),
        {**ISSUE_REQUEST, "alpah": 0.001},
        {"metrics": [{**per_minute["metrics"][0], "baseline": {"events": 1, "trials": 2}}]},
        {"metrics": [{**per_minute["metrics"][1], "minutes": [{"canary": {"p95": 2}}]}]},
    ):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(bad, req_schema)
