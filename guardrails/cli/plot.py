"""The simulation's PNG: operating-characteristic curve and time to decision (matplotlib, Agg)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from guardrails.judge.simulation import Summary


def plot_operating_characteristics(
    summaries: Sequence[Summary],
    *,
    path: Path,
    title: str,
    margin: float,
    alpha: float,
    bake_seconds: float,
    max_bake_seconds: float,
) -> None:
    """Left: P(rollback) and P(promote) by true regression; right: minutes to a decision."""
    x = [s.true_delta for s in summaries]
    # Figure + Agg canvas directly: no pyplot global state, no display needed.
    figure = Figure(figsize=(11, 4.2), layout="constrained")
    FigureCanvasAgg(figure)
    oc, timing = figure.subplots(1, 2)

    oc.plot(x, [s.rollback_rate for s in summaries], "o-", color="tab:red", label="rollback")
    oc.plot(x, [s.promote_rate for s in summaries], "s-", color="tab:green", label="promote")
    oc.plot(x, [s.undecided_rate for s in summaries], "^:", color="tab:gray", label="undecided")
    oc.axhline(alpha, color="tab:red", linestyle="--", linewidth=0.8, label=f"alpha {alpha:g}")
    oc.axvline(margin, color="black", linestyle=":", linewidth=0.8, label=f"margin {margin:g}")
    oc.set(xlabel="true regression (canary - baseline error rate)", ylabel="probability")
    oc.set(ylim=(-0.02, 1.02), title="Operating characteristic")
    oc.legend(loc="center right", fontsize="small")
    oc.grid(alpha=0.3)

    timing.plot(x, [s.mean_seconds / 60 for s in summaries], "o-", label="mean")
    timing.plot(x, [s.p95_seconds / 60 for s in summaries], "s--", label="95th percentile")
    timing.axhline(bake_seconds / 60, color="tab:orange", linewidth=0.8, label="bake time")
    timing.axhline(max_bake_seconds / 60, color="tab:red", linewidth=0.8, label="max bake time")
    timing.axvline(margin, color="black", linestyle=":", linewidth=0.8)
    timing.set(xlabel="true regression (canary - baseline error rate)", ylabel="minutes")
    timing.set(ylim=(0, max_bake_seconds / 60 * 1.05), title="Time to decision")
    timing.legend(loc="upper right", fontsize="small")
    timing.grid(alpha=0.3)

    figure.suptitle(title)
    figure.savefig(path, format="png", dpi=100)
