"""Plain-text tables and number formats shared by the subcommands (no colour, no width tricks)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], right: Sequence[int] = ()) -> str:
    """Columns padded to their widest cell, two spaces apart; `right` columns right-aligned."""
    widths = [len(h) for h in headers]
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))

    def line(cells: Sequence[str]) -> str:
        padded = [
            cell.rjust(widths[i]) if i in right else cell.ljust(widths[i])
            for i, cell in enumerate(cells)
        ]
        return "  ".join(padded).rstrip()

    return "\n".join([line(headers), *(line(row) for row in rows)])


def fields(pairs: Sequence[tuple[str, str]]) -> str:
    """`label  value` lines with the values aligned."""
    width = max(len(label) for label, _ in pairs)
    return "\n".join(f"{label.ljust(width)}  {value}" for label, value in pairs)


def number(value: float | None, digits: int = 4) -> str:
    """A short number (4 significant digits); a dash for None."""
    return "-" if value is None else f"{value:.{digits}g}"


def signed(value: float | None, digits: int = 4) -> str:
    return "-" if value is None else f"{value:+.{digits}g}"


def count(value: float) -> str:
    return f"{round(value):,}"


def percent(value: float) -> str:
    return f"{value * 100:.1f}%"


def minutes(seconds: float) -> str:
    return f"{seconds / 60:.1f} min"


def short_time(iso: str) -> str:
    """2026-11-20T10:00:05.123456Z -> 2026-11-20 10:00:05Z (records keep microseconds)."""
    if len(iso) >= 19 and iso[10] == "T":
        return f"{iso[:10]} {iso[11:19]}Z"
    return iso or "-"


def utc_time(moment: datetime | None) -> str:
    """A datetime from boto3 as 2026-11-20 10:00:05Z; a dash for None."""
    return f"{moment.astimezone(UTC):%Y-%m-%d %H:%M:%S}Z" if moment else "-"


def short_arn(arn: str) -> str:
    """The part after the resource type: model-package/group/3 -> group/3."""
    if arn.startswith("arn:") and "/" in arn:
        return arn.split("/", 1)[1]
    return arn or "-"


def judge_table(metrics: Sequence[dict[str, Any]]) -> str:
    """One row per metric of a judge response: decision, estimate, interval, p-value, counts."""
    rows = []
    for m in metrics:
        ci = m.get("ci")
        interval = f"[{signed(ci[0])}, {signed(ci[1])}]" if ci else "-"
        rows.append(
            [
                m["name"],
                m["decision"],
                signed(m.get("estimate")),
                interval,
                number(m.get("p_value"), 3),
                count(m.get("n_canary", 0)),
                count(m.get("n_baseline", 0)),
            ]
        )
    headers = ["metric", "decision", "estimate", "interval", "p-value", "canary n", "baseline n"]
    return table(headers, rows, right=(2, 4, 5, 6))
