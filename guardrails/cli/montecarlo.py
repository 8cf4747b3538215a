"""The CLI's former simulator module: the simulator now lives in `guardrails.judge.simulation`.

Kept as an alias of that module's public names for `guardrails.cli.plot`, which imports
`Summary` from here; new code imports `guardrails.judge.simulation`.
"""

from __future__ import annotations

from guardrails.judge.simulation import (
    Kind,
    Outcome,
    Scenario,
    Summary,
    outcomes,
    simulate,
    summarize,
)

__all__ = ["Kind", "Outcome", "Scenario", "Summary", "outcomes", "simulate", "summarize"]
