"""guardrails.judge.request, per-minute form: parsing, and every malformed input is one error.

The property tests drive random malformed requests through ``evaluate``: each is a
JudgeInputError naming its field, or (for inputs that happen to be valid) a well-formed
response; never another exception, and never a promotion from a malformed arm.
"""

from __future__ import annotations

import copy
import json
import math
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from guardrails.judge import JudgeInputError, evaluate
from guardrails.judge.request import (
    MAX_MINUTES,
    Arm,
    MeanMinute,
    parse_request,
)
from tests.unit.judge.builders import mean_minute, mean_minutes, prop_minutes

PROP = prop_minutes((10, 900, 1, 100), (12, 910, 2, 95))
MEAN = mean_minutes((900, 50.0, 100, 52.0), (910, 49.0, 95, 51.0))


def request(*metrics: dict[str, Any], **top: Any) -> dict[str, Any]:
    return {"metrics": [copy.deepcopy(m) for m in metrics], **top}


# --------------------------------------------------------------------------- parsing


def test_minutes_parse_into_strata_and_totals() -> None:
    prop, mean = parse_request(request(PROP, MEAN, warmup_minutes=2)).metrics
    assert prop.minutes is not None and len(prop.minutes) == 2
    assert prop.minutes[0].canary == Arm(n=100, value=0.01, events=1)
    assert prop.baseline == Arm(n=1810, value=22 / 1810, events=22)
    assert mean.minutes is not None
    first = mean.minutes[0].canary
    assert isinstance(first, MeanMinute) and first.n == 100
    assert first.mean == pytest.approx(52.0)
    assert mean.canary is not None and mean.canary.n == 195
    assert mean.canary.value == pytest.approx((100 * 52.0 + 95 * 51.0) / 195)
    assert parse_request(request(PROP, warmup_minutes=2)).warmup_minutes == 2


@pytest.mark.parametrize("arm", [None, {}, {"count": 0}, {"count": 0, "sum": 0.0}])
def test_a_minute_without_requests_is_no_data(arm: Any) -> None:
    metric = copy.deepcopy(MEAN)
    metric["minutes"][1]["canary"] = arm
    parsed = parse_request(request(metric)).metrics[0]
    assert parsed.minutes is not None and parsed.minutes[1].canary is None
    assert parsed.canary is not None and parsed.canary.n == 100


def test_a_metric_with_no_minute_of_data_continues() -> None:
    metric = {"name": "m", "kind": "proportion", "margin": 0.01, "minutes": []}
    res = evaluate(request(metric))
    assert res["decision"] == "continue"
    assert "baseline and canary missing" in res["reason"]


def test_percentiles_and_min_max_are_optional() -> None:
    metric = copy.deepcopy(MEAN)
    metric["minutes"][0]["canary"] = {"count": 100, "sum": 5200.0}
    parsed = parse_request(request(metric)).metrics[0]
    assert parsed.minutes is not None
    assert parsed.minutes[0].canary == MeanMinute(n=100, total=5200.0)


# --------------------------------------------------------------------------- bad input


def _edit(metric: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """The metric with the field at a dotted path (list indexes as digits) set or dropped."""
    edited = copy.deepcopy(metric)
    *parents, last = path.split(".")
    node: Any = edited
    for key in parents:
        node = node[int(key)] if key.isdigit() else node[key]
    if value is _DROP:
        del node[last]
    elif last.isdigit():
        node[int(last)] = value
    else:
        node[last] = value
    return edited


_DROP = object()


@pytest.mark.parametrize(
    ("metric", "path", "value", "message"),
    [
        (PROP, "baseline", {"events": 1, "trials": 2},
         r"^metrics\[0\]\.baseline: not with minutes"),
        (PROP, "minutes", {"0": {}}, r"^metrics\[0\]\.minutes: must be a list"),
        (PROP, "minutes.1", [1, 2], r"^metrics\[0\]\.minutes\[1\]: must be an object"),
        (PROP, "minutes.0.canry", {}, r"^metrics\[0\]\.minutes\[0\]\.canry: unknown field"),
        (PROP, "minutes.0.canary.errors", 1,
         r"^metrics\[0\]\.minutes\[0\]\.canary\.errors: unknown field"),
        (PROP, "minutes.1.canary.events", -1,
         r"^metrics\[0\]\.minutes\[1\]\.canary\.events: must be >= 0"),
        (PROP, "minutes.1.canary.trials", 95.5,
         r"^metrics\[0\]\.minutes\[1\]\.canary\.trials: must be a whole number"),
        (PROP, "minutes.1.canary.events", 96,
         r"^metrics\[0\]\.minutes\[1\]\.canary\.trials: must be >= events \(96 > 95\)"),
        (PROP, "minutes.0.baseline.trials", _DROP,
         r"^metrics\[0\]\.minutes\[0\]\.baseline\.trials: required"),
        (PROP, "minutes.0.baseline.trials", 10**20,
         r"^metrics\[0\]\.minutes\[0\]\.baseline\.trials: must be at most"),
        (PROP, "minutes.0.baseline.trials", 10**400,
         r"^metrics\[0\]\.minutes\[0\]\.baseline\.trials: must be at most"),
        (PROP, "minutes.0.baseline.events", True,
         r"^metrics\[0\]\.minutes\[0\]\.baseline\.events: must be a number"),
        (PROP, "margin", 1e-300, r"^metrics\[0\]\.margin: must be >= 1e-09"),
        (MEAN, "minutes.0.canary.count", -3,
         r"^metrics\[0\]\.minutes\[0\]\.canary\.count: must be >= 0"),
        (MEAN, "minutes.0.canary.count", 2.5,
         r"^metrics\[0\]\.minutes\[0\]\.canary\.count: must be a whole number"),
        (MEAN, "minutes.0.canary.sum", _DROP,
         r"^metrics\[0\]\.minutes\[0\]\.canary\.sum: required when count > 0"),
        (MEAN, "minutes.0.canary.sum", float("nan"),
         r"^metrics\[0\]\.minutes\[0\]\.canary\.sum: must be finite"),
        (MEAN, "minutes.0.canary.max", float("inf"),
         r"^metrics\[0\]\.minutes\[0\]\.canary\.max: must be finite"),
        (MEAN, "minutes.0.canary.sum", 1e300,
         r"^metrics\[0\]\.minutes\[0\]\.canary\.sum: must be at most 1e\+12 in size"),
        (MEAN, "minutes.0.canary.min", 1e6,
         r"^metrics\[0\]\.minutes\[0\]\.canary\.min: must be <= max"),
        (MEAN, "minutes.0.canary.max", _DROP,
         r"^metrics\[0\]\.minutes\[0\]\.canary\.max: required with min/max"),
        (MEAN, "minutes.0.canary.sum", 1e9,
         r"^metrics\[0\]\.minutes\[0\]\.canary\.sum: must lie within \[count x min, count x max\]"),
        (MEAN, "minutes.0.canary.sum", -1.0,
         r"^metrics\[0\]\.minutes\[0\]\.canary\.sum: must lie within"),
        (MEAN, "minutes.1.baseline.p90", 1.0,
         r"^metrics\[0\]\.minutes\[1\]\.baseline\.p90: must be >= p50"),
        (MEAN, "minutes.1.baseline.p99", 1e5,
         r"^metrics\[0\]\.minutes\[1\]\.baseline\.p99: must be <= max"),
        (MEAN, "minutes.1.baseline.p50", 0.0,
         r"^metrics\[0\]\.minutes\[1\]\.baseline\.p50: must be >= min"),
        (MEAN, "minutes.1.baseline.p50", "30",
         r"^metrics\[0\]\.minutes\[1\]\.baseline\.p50: must be a number"),
    ],
)  # fmt: skip
def test_malformed_minutes_name_field_and_metric(
    metric: dict[str, Any], path: str, value: Any, message: str
) -> None:
    with pytest.raises(JudgeInputError, match=message) as raised:
        evaluate(request(_edit(metric, path, value)))
    assert str(raised.value).endswith(f"(metric {metric['name']!r})")


@pytest.mark.parametrize(
    ("top", "message"),
    [
        ({"warmup_minutes": -1}, r"^warmup_minutes: must be >= 0"),
        ({"warmup_minutes": 1.5}, r"^warmup_minutes: must be a whole number"),
        ({"warmup_minutes": 10**6}, r"^warmup_minutes: must be at most 1440"),
        ({"warmup_minutes": "2"}, r"^warmup_minutes: must be a number"),
        ({"alpha": 1e-300}, r"^alpha: must be >= 1e-10"),
        ({"min_samples": 10**30}, r"^min_samples: must be at most"),
        ({"alpah": 0.001}, r"^alpah: unknown field"),
    ],
)
def test_malformed_top_level_fields(top: dict[str, Any], message: str) -> None:
    with pytest.raises(JudgeInputError, match=message):
        evaluate(request(PROP, **top))


def test_too_many_minutes() -> None:
    metric = prop_minutes(*[(0, 10, 0, 1)] * (MAX_MINUTES + 1))
    with pytest.raises(JudgeInputError, match=r"^metrics\[0\]\.minutes: at most 10080"):
        evaluate(request(metric))


# --------------------------------------------------------------------------- properties


@st.composite
def valid_request(draw: st.DrawFn) -> dict[str, Any]:
    """A well-formed per-minute request: one proportion and one mean metric."""
    k = draw(st.integers(1, 6))
    props, means = [], []
    for _ in range(k):
        nb, nc = draw(st.integers(1, 2000)), draw(st.integers(1, 300))
        props.append((draw(st.integers(0, nb // 10)), nb, draw(st.integers(0, nc // 5)), nc))
        means.append((nb, draw(st.floats(1.0, 500.0)), nc, draw(st.floats(1.0, 500.0))))
    return request(
        prop_minutes(*props, limit=0.05),
        mean_minutes(*means, limit=400.0),
        warmup_minutes=draw(st.integers(0, 2)),
        min_samples=draw(st.integers(1, 100)),
    )


# Values that make a field invalid wherever they go: not a number, not finite, absurd.
ALWAYS_BAD = st.sampled_from(
    [float("nan"), float("inf"), -float("inf"), "1", None, True, [], {}, 1e300, -1e300, 10**40]
)
# Values invalid in count fields only (negative or fractional).
BAD_COUNT = st.one_of(
    ALWAYS_BAD, st.integers(max_value=-1), st.floats(0.1, 0.9).map(lambda x: 7 + x)
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(valid_request(), st.data())
def test_a_malformed_arm_always_raises_and_never_promotes(
    req: dict[str, Any], data: st.DataObject
) -> None:
    metric_index = data.draw(st.integers(0, 1))
    metric = req["metrics"][metric_index]
    minute = data.draw(st.integers(0, len(metric["minutes"]) - 1))
    arm_name = data.draw(st.sampled_from(["baseline", "canary"]))
    arm = metric["minutes"][minute][arm_name]
    how = data.draw(st.sampled_from(["count", "value", "unknown", "inconsistent", "drop"]))
    count_key = "trials" if metric["kind"] == "proportion" else "count"
    if how == "count":
        arm[count_key] = data.draw(BAD_COUNT)
    elif how == "value":
        key = data.draw(st.sampled_from(sorted(arm)))
        arm[key] = data.draw(ALWAYS_BAD)
    elif how == "unknown":
        arm[data.draw(st.sampled_from(["trails", "evnets", "p95", "mean", "std", "n"]))] = 1
    elif how == "inconsistent":
        if metric["kind"] == "proportion":
            arm["events"] = arm["trials"] + data.draw(st.integers(1, 10))
        else:
            field = data.draw(st.sampled_from(["min_gt_max", "sum_high", "sum_low", "pct"]))
            if field == "min_gt_max":
                arm["min"] = arm["max"] * 2 + 1
            elif field == "sum_high":
                arm["sum"] = arm["count"] * arm["max"] * 1.5 + 1
            elif field == "sum_low":
                arm["sum"] = arm["count"] * arm["min"] * 0.5 - 1
            else:
                arm["p90"] = arm["p50"] / 2 - 1
    else:
        del arm[count_key if metric["kind"] == "proportion" else "sum"]
    with pytest.raises(JudgeInputError) as raised:
        evaluate(req)
    assert str(raised.value).startswith(f"metrics[{metric_index}].")


JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**20), 10**20)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=5),
    lambda children: st.lists(children, max_size=3)
    | st.dictionaries(
        st.sampled_from(
            ["metrics", "minutes", "baseline", "canary", "events", "trials", "count", "sum",
             "min", "max", "p50", "name", "kind", "margin", "alpha", "x"]
        ),
        children,
        max_size=4,
    ),
    max_leaves=12,
)  # fmt: skip


def _well_formed(response: dict[str, Any]) -> None:
    assert response["decision"] in ("rollback", "continue", "promote")
    assert isinstance(response["reason"], str)
    json.dumps(response, allow_nan=False)


@settings(max_examples=200, deadline=None)
@given(JSON, st.sampled_from(["request", "metric", "minute", "arm"]))
def test_any_json_is_an_error_or_a_response(value: Any, where: str) -> None:
    if where == "request":
        req = value
    elif where == "metric":
        req = {"metrics": [value]}
    elif where == "minute":
        req = request({**PROP, "minutes": [value]})
    else:
        req = request({**MEAN, "minutes": [{"baseline": value, "canary": mean_minute(10, 5.0)}]})
    try:
        response = evaluate(req)
    except JudgeInputError:
        return
    _well_formed(response)


EXTREME = st.one_of(
    st.sampled_from([0, 1, -1, 0.0, -0.0, 5e-324, 1e-300, 1e12, 1e15, 1e308, 10**12, 10**15]),
    st.floats(allow_nan=False, allow_infinity=False),
    st.integers(-(10**16), 10**16),
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(valid_request(), st.data())
def test_extreme_numbers_are_an_error_or_a_finite_response(
    req: dict[str, Any], data: st.DataObject
) -> None:
    for _ in range(data.draw(st.integers(1, 3))):
        target = data.draw(st.sampled_from(["top", "metric", "arm"]))
        if target == "top":
            req[data.draw(st.sampled_from(["alpha", "min_samples", "warmup_minutes"]))] = data.draw(
                EXTREME
            )
        elif target == "metric":
            metric = req["metrics"][data.draw(st.integers(0, 1))]
            metric[data.draw(st.sampled_from(["margin", "limit"]))] = data.draw(EXTREME)
        else:
            metric = req["metrics"][data.draw(st.integers(0, 1))]
            minute = metric["minutes"][data.draw(st.integers(0, len(metric["minutes"]) - 1))]
            arm = minute[data.draw(st.sampled_from(["baseline", "canary"]))]
            arm[data.draw(st.sampled_from(sorted(arm)))] = data.draw(EXTREME)
    try:
        response = evaluate(req)
    except JudgeInputError:
        return
    _well_formed(response)
    for metric in response["metrics"]:
        for key in ("estimate", "p_value", "limit_p_value"):
            assert metric[key] is None or math.isfinite(metric[key])


def test_a_huge_but_valid_request_is_judged() -> None:
    # The largest counts and values the judge accepts still give finite statistics.
    big = prop_minutes((10**14, 10**15, 10**13, 10**14), limit=0.5)
    res = evaluate(request(big))
    _well_formed(res)
    assert all(math.isfinite(x) for x in res["metrics"][0]["ci"])
