"""A CloudWatch `get-metric-data` export plus a small mapping -> a judge request (pure).

The mapping names, for each judge metric, the query Ids that hold its numbers; see
docs/cli.md. The request is in the judge's per-minute form (one entry per period of the
export, oldest first), as the rollout's reader builds it, so the judge compares the fleets
period by period. Proportions take `events` and `trials` from one Id each, or from several
with a leading "-" subtracting one (aggregate minus new fleet). Means take `samples`
(SampleCount) and `average` or `sum`, plus optional `min`, `max`, `p50`, `p90`, `p99`, from
which the judge derives the per-request spread. A mean arm with a fixed `std` makes the
metric cumulative (one total per arm), as before per-minute requests existed.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

MAPPING_METRIC_KEYS = (
    "name",
    "kind",
    "higher_is_worse",
    "margin",
    "limit",
    "scale",
    "baseline",
    "canary",
)
PROPORTION_ARM_KEYS = ("events", "trials")
MEAN_ARM_KEYS = ("samples", "average", "sum", "min", "max", "p50", "p90", "p99", "std")
_SHAPE_KEYS = ("min", "max", "p50", "p90", "p99")


class ExportError(ValueError):
    """The export or the mapping is malformed; the message starts with the field."""


Series = dict[str, dict[datetime, float]]


def load_series(export: object) -> Series:
    """Id -> {period start: value}, pages of a paginated export joined."""
    pages = export if isinstance(export, list) else [export]
    series: Series = {}
    for p, page in enumerate(pages):
        where = f"export[{p}]" if isinstance(export, list) else "export"
        results = page.get("MetricDataResults") if isinstance(page, dict) else None
        if not isinstance(results, list):
            raise ExportError(f"{where}.MetricDataResults: missing (not a get-metric-data output)")
        for i, result in enumerate(results):
            path = f"{where}.MetricDataResults[{i}]"
            if not isinstance(result, dict) or not isinstance(result.get("Id"), str):
                raise ExportError(f"{path}.Id: missing")
            stamps, values = result.get("Timestamps", []), result.get("Values", [])
            if not isinstance(stamps, list) or not isinstance(values, list):
                raise ExportError(f"{path}: Timestamps and Values must be lists")
            if len(stamps) != len(values):
                raise ExportError(f"{path}: {len(stamps)} Timestamps but {len(values)} Values")
            known = series.setdefault(result["Id"], {})
            for j, (stamp, value) in enumerate(zip(stamps, values, strict=True)):
                if isinstance(value, bool) or not isinstance(value, int | float):
                    raise ExportError(f"{path}.Values[{j}]: not a number ({value!r})")
                if not math.isfinite(value):
                    raise ExportError(f"{path}.Values[{j}]: not finite ({value!r})")
                known[_time(f"{path}.Timestamps[{j}]", stamp)] = float(value)
    return series


def _time(path: str, stamp: object) -> datetime:
    try:
        parsed = datetime.fromisoformat(str(stamp))
    except ValueError:
        raise ExportError(f"{path}: not an ISO 8601 time ({stamp!r})") from None
    if parsed.tzinfo is None:
        raise ExportError(f"{path}: needs a time zone, as CloudWatch gives ({stamp!r})")
    return parsed


def build_request(export: object, mapping: object) -> dict[str, Any]:
    """The judge request the mapping describes, filled from the export's series."""
    series = load_series(export)
    if not isinstance(mapping, dict):
        raise ExportError("mapping: must be a JSON object")
    metrics = mapping.get("metrics")
    if not isinstance(metrics, list) or not metrics:
        raise ExportError("mapping.metrics: must be a non-empty list")
    periods = sorted({stamp for values in series.values() for stamp in values})
    request: dict[str, Any] = {k: v for k, v in mapping.items() if k != "metrics"}
    request["metrics"] = [
        _metric(f"mapping.metrics[{i}]", m, series, periods) for i, m in enumerate(metrics)
    ]
    return request


def _metric(path: str, raw: object, series: Series, periods: list[datetime]) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise ExportError(f"{path}: must be an object")
    for key in raw:
        if key not in MAPPING_METRIC_KEYS:
            raise ExportError(
                f"{path}.{key}: unknown field (known: {', '.join(MAPPING_METRIC_KEYS)})"
            )
    kind = raw.get("kind")
    if kind not in ("proportion", "mean"):
        raise ExportError(f"{path}.kind: must be proportion or mean (got {kind!r})")
    scale = raw.get("scale", 1.0)
    if isinstance(scale, bool) or not isinstance(scale, int | float) or not scale > 0:
        raise ExportError(f"{path}.scale: must be a number above 0 (got {scale!r})")
    if kind == "proportion" and "scale" in raw:
        raise ExportError(f"{path}.scale: only for means (counts are not scaled)")
    metric = {k: v for k, v in raw.items() if k not in ("scale", "baseline", "canary")}
    arms = {}
    for arm in ("baseline", "canary"):
        arm_raw = raw.get(arm)
        if not isinstance(arm_raw, dict):
            raise ExportError(f"{path}.{arm}: must be an object naming query Ids")
        allowed = PROPORTION_ARM_KEYS if kind == "proportion" else MEAN_ARM_KEYS
        _check_keys(f"{path}.{arm}", arm_raw, allowed)
        arms[arm] = arm_raw
    if kind == "mean" and any("std" in arm for arm in arms.values()):
        for arm, arm_raw in arms.items():
            metric[arm] = _cumulative_mean_arm(f"{path}.{arm}", arm_raw, series, float(scale))
        return metric
    per_period = {
        arm: (
            _proportion_periods(f"{path}.{arm}", arm_raw, series, periods)
            if kind == "proportion"
            else _mean_periods(f"{path}.{arm}", arm_raw, series, periods, float(scale))
        )
        for arm, arm_raw in arms.items()
    }
    if kind == "proportion":
        for b, c, stamp in zip(per_period["baseline"], per_period["canary"], periods, strict=True):
            for arm, counts in (("baseline", b), ("canary", c)):
                if counts is not None and counts["events"] > counts["trials"]:
                    raise ExportError(
                        f"{path}.{arm}.events: {counts['events']} is more than trials "
                        f"{counts['trials']} at {stamp.isoformat()}"
                    )
    metric["minutes"] = [
        {"baseline": b, "canary": c}
        for b, c in zip(per_period["baseline"], per_period["canary"], strict=True)
    ]
    return metric


def _check_keys(path: str, arm: dict[str, Any], allowed: tuple[str, ...]) -> None:
    for key in arm:
        if key not in allowed:
            raise ExportError(f"{path}.{key}: unknown field (known: {', '.join(allowed)})")


def _values(path: str, query_id: object, series: Series) -> dict[datetime, float]:
    if not isinstance(query_id, str) or not query_id:
        raise ExportError(f"{path}: must be a query Id (a string)")
    if query_id not in series:
        known = ", ".join(sorted(series)) or "none"
        raise ExportError(f"{path}: no series {query_id!r} in the export (Ids: {known})")
    return series[query_id]


def _signed_sum(
    path: str, terms: object, series: Series
) -> list[tuple[float, dict[datetime, float]]]:
    """(sign, series) for an Id or a list of Ids, a leading "-" subtracting one."""
    listed = terms if isinstance(terms, list) else [terms]
    if not listed:
        raise ExportError(f"{path}: must name at least one query Id")
    out = []
    for term in listed:
        negative = isinstance(term, str) and term.startswith("-")
        query_id = term[1:] if negative and isinstance(term, str) else term
        out.append((-1.0 if negative else 1.0, _values(path, query_id, series)))
    return out


def _count(
    path: str, terms: list[tuple[float, dict[datetime, float]]], stamp: datetime
) -> int | None:
    """The whole count of one period; None when no Id has a value then."""
    present = [(sign, values[stamp]) for sign, values in terms if stamp in values]
    if not present:
        return None
    total = math.fsum(sign * value for sign, value in present)
    whole = round(total)
    if abs(total - whole) > 1e-6 * max(1.0, abs(total)):
        raise ExportError(
            f"{path}: {total:g} at {stamp.isoformat()} is not a whole count (use the Sum statistic)"
        )
    if whole < 0:
        raise ExportError(f"{path}: comes to {whole} at {stamp.isoformat()}, below 0")
    return whole


def _proportion_periods(
    path: str, arm: dict[str, Any], series: Series, periods: list[datetime]
) -> list[dict[str, int] | None]:
    terms = {}
    for key in PROPORTION_ARM_KEYS:
        if key not in arm:
            raise ExportError(f"{path}.{key}: missing")
        terms[key] = _signed_sum(f"{path}.{key}", arm[key], series)
    out: list[dict[str, int] | None] = []
    for stamp in periods:
        events = _count(f"{path}.events", terms["events"], stamp)
        trials = _count(f"{path}.trials", terms["trials"], stamp)
        # A period counts only with both numbers and at least one request.
        out.append(
            {"events": events, "trials": trials}
            if events is not None and trials is not None and trials > 0
            else None
        )
    return out


def _mean_periods(
    path: str, arm: dict[str, Any], series: Series, periods: list[datetime], scale: float
) -> list[dict[str, Any] | None]:
    if "samples" not in arm:
        raise ExportError(f"{path}.samples: missing")
    if ("average" in arm) == ("sum" in arm):
        raise ExportError(f"{path}.average: give average or sum (one of them)")
    samples = _values(f"{path}.samples", arm["samples"], series)
    level_key = "average" if "average" in arm else "sum"
    level = _values(f"{path}.{level_key}", arm[level_key], series)
    shape = {key: _values(f"{path}.{key}", arm[key], series) for key in _SHAPE_KEYS if key in arm}
    if ("min" in shape) != ("max" in shape):
        raise ExportError(f"{path}.{'max' if 'min' in shape else 'min'}: give min and max together")
    out: list[dict[str, Any] | None] = []
    for stamp in periods:
        count = samples.get(stamp)
        if count is None or count <= 0 or stamp not in level:
            out.append(None)  # no samples, or no level to go with them: no data that period
            continue
        n = round(count)
        total = level[stamp] * (count if level_key == "average" else 1.0)
        period: dict[str, Any] = {"count": n, "sum": total * scale}
        for key, values in shape.items():
            if stamp in values:
                period[key] = values[stamp] * scale
        out.append(period)
    return out


def _cumulative_mean_arm(
    path: str, arm: dict[str, Any], series: Series, scale: float
) -> dict[str, Any]:
    """{n, mean, std} over every period; std from the arm or from how the averages spread."""
    for key in ("samples", "average"):
        if key not in arm:
            raise ExportError(f"{path}.{key}: missing")
    samples = _values(f"{path}.samples", arm["samples"], series)
    averages = _values(f"{path}.average", arm["average"], series)
    periods = [
        (count, averages[stamp] * scale)
        for stamp, count in samples.items()
        if count > 0 and stamp in averages
    ]
    n = round(math.fsum(count for count, _ in periods))
    if n == 0:
        return {"n": 0}
    mean = math.fsum(count * avg for count, avg in periods) / n
    if "std" in arm:
        std = arm["std"]
        if isinstance(std, bool) or not isinstance(std, int | float) or not std >= 0:
            raise ExportError(f"{path}.std: must be a number >= 0 (got {std!r})")
        return {"n": n, "mean": mean, "std": float(std)}
    if len(periods) < 2:
        raise ExportError(
            f"{path}.std: one period with samples is not enough to estimate it; "
            "export more periods or give std"
        )
    # A period's average of k requests varies as sigma^2 / k around the mean, so
    # sum k_i (avg_i - mean)^2 / (P - 1) estimates sigma^2; drift between periods only
    # inflates it, which errs towards not promoting.
    spread = math.fsum(count * (avg - mean) ** 2 for count, avg in periods) / (len(periods) - 1)
    return {"n": n, "mean": mean, "std": math.sqrt(spread)}
