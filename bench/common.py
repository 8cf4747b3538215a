"""What the benchmarks share: timing a call, and each one's block of docs/BENCHMARKS.md."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parents[1] / "docs" / "BENCHMARKS.md"


def write_block(name: str, section: str, lines: list[str]) -> None:
    """Replace the block `<!-- name:begin -->` ... `<!-- name:end -->`; keep everything else.

    Without the block, append it under `section` (a "## ..." heading).
    """
    begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
    block = "\n".join([begin, *lines, "", end])
    text = BENCHMARKS.read_text() if BENCHMARKS.exists() else "# Benchmarks\n"
    if begin in text and end in text:
        i, j = text.index(begin), text.index(end) + len(end)
        text = text[:i] + block + text[j:]
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n\n" + block + "\n"
    BENCHMARKS.write_text(text)
    print(f"wrote {BENCHMARKS}")


def best_seconds(call: Callable[[], object], number: int, repeat: int = 5) -> float:
    """Seconds per call: the best of `repeat` rounds of `number` calls (as timeit advises)."""
    best = math.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(number):
            call()
        best = min(best, (time.perf_counter() - t0) / number)
    return best
