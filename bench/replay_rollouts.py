"""Whole staging rollouts that decide on replayed test data alone, over many seeds (issue 12).

    python bench/replay_rollouts.py             # print the table (about 4 minutes on 2 cores)
    python bench/replay_rollouts.py --write     # ... and update docs/BENCHMARKS.md
    python bench/replay_rollouts.py --quick     # 3 seeds a case, for a smoke test

The shipped staging environment (A/B at 50%, 120 replayed requests a minute, no other traffic)
runs against the simulated SageMaker of the rollout tests (tests/unit/rollout/sagemaker_sim.py:
provisioning, the trial update's baking window, per-minute CloudWatch with its delay, alarms):
the real steps in the state machine's order, the Replay step pacing itself on the simulated
clock. Cases: a model as good as the baseline, a 3%-vs-1% 5xx regression, and a model 15 points
less accurate on the labelled rows with the same error rates.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
BENCHMARKS = ROOT / "docs" / "BENCHMARKS.md"
BEGIN, END = "<!-- replay_rollouts:begin -->", "<!-- replay_rollouts:end -->"
CASES = {
    "healthy (same errors, same accuracy)": ({}, {}),
    "5xx 3% vs 1%": ({"error_rate": 0.01}, {"error_rate": 0.03}),
    "accuracy 0.75 vs 0.9": ({}, {"accuracy": 0.75}),
}


def run_case(case: str, seed: int) -> dict[str, object]:
    """One rollout of `case` with `seed`: its ending and when the judge decided."""
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        os.environ.setdefault(name, "testing")
    import pytest
    from moto import mock_aws

    from guardrails import records
    from guardrails.config import default_config
    from tests.unit.rollout.doubles import shipped_world
    from tests.unit.rollout.sagemaker_sim import ModelProfile, installed
    from tests.unit.rollout.state_machine_driver import Driver

    shipped = default_config({"prod": {"account": "111111111111", "region": "eu-west-1"}})
    baseline, candidate = CASES[case]
    with mock_aws(), pytest.MonkeyPatch.context() as monkeypatch:
        # SageMaker's own 5xx alarm stays blind to a few percent: the judge must act.
        world = shipped_world(
            monkeypatch, shipped.environment("staging"), endpoint={"max_5xx_error_rate": 0.05}
        )
        sim = installed(
            world,
            monkeypatch,
            requests_per_minute=0,
            baseline=ModelProfile(**baseline),
            candidate=ModelProfile(**candidate),
            seed=seed,
        )
        driver = Driver(world, sim)
        run = driver.run()
        rounds = [
            d for d in records.list_decisions(world.table, "d-1", limit=1000)
            if d["decided_by"] == "judge"
        ]  # fmt: skip
        last = rounds[0]["details"]
        return {
            "case": case,
            "result": run.result,
            "stuck": last["action_reason"].startswith("undecided"),
            "minutes": last["elapsed_seconds"] / 60,
            "requests": sum(r.sent for r in driver.replays),
            "failed": sum(r.failed + r.throttled for r in driver.replays),
        }


def table(results: list[dict[str, object]], seeds: int) -> str:
    lines = [
        "| case | promoted | rolled back | of which stuck | mean min to decision | max min "
        "| replayed requests (mean) |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for case in CASES:
        rows = [r for r in results if r["case"] == case]
        minutes = [float(r["minutes"]) for r in rows]  # type: ignore[arg-type]
        lines.append(
            f"| {case} | {sum(r['result'] == 'PROMOTED' for r in rows)}/{seeds} "
            f"| {sum(r['result'] == 'ROLLED_BACK' for r in rows)}/{seeds} "
            f"| {sum(bool(r['stuck']) for r in rows)} "
            f"| {sum(minutes) / len(minutes):.0f} | {max(minutes):.0f} "
            f"| {sum(int(r['requests']) for r in rows) / len(rows):,.0f} |"  # type: ignore[call-overload]
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    seeds = 3 if args.quick else args.seeds
    started = time.perf_counter()
    with ProcessPoolExecutor(max_workers=2) as pool:
        jobs = [pool.submit(run_case, case, seed) for case in CASES for seed in range(seeds)]
        results = [job.result() for job in jobs]
    seconds = time.perf_counter() - started
    body = table(results, seeds)
    header = (
        f"Command: `python bench/replay_rollouts.py --write` ({seeds} seeds a case; "
        f"{seconds:.0f} s on 2 cores, Python {platform.python_version()}).\n\n"
        "The shipped staging environment (A/B at 50%, 120 replayed requests a minute, no "
        "other traffic, max bake 120 min) against the simulated SageMaker of the rollout "
        "tests. Minutes run from UpdateEndpoint to the judge's last round (provisioning the "
        "trial fleet included); the healthy model also waits out the trial update's baking "
        "window and the 60-minute bake time.\n\n"
    )
    print(header + body)
    if args.write:
        text = BENCHMARKS.read_text()
        section = f"{BEGIN}\n{header}{body}\n{END}"
        if BEGIN in text:
            text = re.sub(re.escape(BEGIN) + ".*?" + re.escape(END), section, text, flags=re.S)
        else:
            text += f"\n## Replaying test data: whole staging rollouts\n\n{section}\n"
        BENCHMARKS.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
