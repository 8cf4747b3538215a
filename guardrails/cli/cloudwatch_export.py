"""A CloudWatch `get-metric-data` export plus a small mapping -> a judge request (pure).

The mapping names, for each judge metric, the query Ids that hold its numbers; see
docs/cli.md. Proportions take `events` and `trials` as the Sum over every period of one Id, or
of several with a leading "-" subtracting one (aggregate minus new fleet). Means take the
`samples` (SampleCount) and `average` (Average) series, paired by timestamp, and derive the
per-request std from how the per-period averages spread, unless the mapping gives `std`.
"""

from __future__ import annotations

import math
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
MEAN_ARM_KEYS = ("samples", "average", "std")


class ExportError(ValueError):
    """The export or the mapping is malformed; the message starts with the field."""


Series = dict[str, tuple[list[str], list[float]]]


def load_series(export: object) -> Series:
    """Id -> (timestamps, values), pages of a paginated export joined."""
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
            for j, value in enumerate(values):
                if isinstance(value, bool) or not isinstance(value, int | float):
                    raise ExportError(f"{path}.Values[{j}]: not a number ({value!r})")
                if not math.isfinite(value):
                    raise ExportError(f"{path}.Values[{j}]: not finite ({value!r})")
            known = series.setdefault(result["Id"], ([], []))
            known[0].extend(str(s) for s in stamps)
            known[1].extend(float(v) for v in values)
    return series


def build_request(export: object, mapping: object) -> dict[str, Any]:
    """The judge request the mapping describes, filled from the export's series."""
    series = load_series(export)
    if not isinstance(mapping, dict):
        raise ExportError("mapping: must be a JSON object")
    metrics = mapping.get("metrics")
    if not isinstance(metrics, list) or not metrics:
        raise ExportError("mapping.metrics: must be a non-empty list")
    request: dict[str, Any] = {k: v for k, v in mapping.items() if k != "metrics"}
    request["metrics"] = [
        _metric(f"mapping.metrics[{i}]", m, series) for i, m in enumerate(metrics)
    ]
    return request


def _metric(path: str, raw: object, series: Series) -> dict[str, Any]:
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
    for arm in ("baseline", "canary"):
        arm_path = f"{path}.{arm}"
        arm_raw = raw.get(arm)
        if not isinstance(arm_raw, dict):
            raise ExportError(f"{arm_path}: must be an object naming query Ids")
        if kind == "proportion":
            metric[arm] = _proportion_arm(arm_path, arm_raw, series)
        else:
            metric[arm] = _mean_arm(arm_path, arm_raw, series, float(scale))
    return metric


def _check_keys(path: str, arm: dict[str, Any], allowed: tuple[str, ...]) -> None:
    for key in arm:
        if key not in allowed:
            raise ExportError(f"{path}.{key}: unknown field (known: {', '.join(allowed)})")


def _values(path: str, query_id: object, series: Series) -> tuple[list[str], list[float]]:
    if not isinstance(query_id, str) or not query_id:
        raise ExportError(f"{path}: must be a query Id (a string)")
    if query_id not in series:
        known = ", ".join(sorted(series)) or "none"
        raise ExportError(f"{path}: no series {query_id!r} in the export (Ids: {known})")
    return series[query_id]


def _proportion_arm(path: str, arm: dict[str, Any], series: Series) -> dict[str, int]:
    _check_keys(path, arm, PROPORTION_ARM_KEYS)
    counts = {}
    for key in PROPORTION_ARM_KEYS:
        if key not in arm:
            raise ExportError(f"{path}.{key}: missing")
        terms = arm[key] if isinstance(arm[key], list) else [arm[key]]
        if not terms:
            raise ExportError(f"{path}.{key}: must name at least one query Id")
        total = 0.0
        for term in terms:
            negative = isinstance(term, str) and term.startswith("-")
            query_id = term[1:] if negative else term
            value = math.fsum(_values(f"{path}.{key}", query_id, series)[1])
            total += -value if negative else value
        whole = round(total)
        if abs(total - whole) > 1e-6 * max(1.0, abs(total)):
            raise ExportError(
                f"{path}.{key}: {total:g} is not a whole count (use the Sum statistic)"
            )
        if whole < 0:
            raise ExportError(f"{path}.{key}: comes to {whole}, below 0")
        counts[key] = whole
    if counts["events"] > counts["trials"]:
        raise ExportError(
            f"{path}.events: {counts['events']} is more than trials {counts['trials']}"
        )
    return counts


def _mean_arm(path: str, arm: dict[str, Any], series: Series, scale: float) -> dict[str, Any]:
    _check_keys(path, arm, MEAN_ARM_KEYS)
    for key in ("samples", "average"):
        if key not in arm:
            raise ExportError(f"{path}.{key}: missing")
    sample_stamps, sample_values = _values(f"{path}.samples", arm["samples"], series)
    average_stamps, average_values = _values(f"{path}.average", arm["average"], series)
    averages = dict(zip(average_stamps, average_values, strict=True))
    periods = [
        (count, averages[stamp] * scale)
        for stamp, count in zip(sample_stamps, sample_values, strict=True)
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
