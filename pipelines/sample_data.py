"""Writes pipelines/data/sample.csv: a small synthetic binary-classification data set.

Deterministic (stdlib `random` with a fixed seed), so the committed file can be regenerated
byte for byte: `python -m pipelines.sample_data`. Eight numeric features, like the smoke-test
payload the endpoint receives, and a 0/1 label in the first column.
"""

from __future__ import annotations

import argparse
import csv
import math
import random
from pathlib import Path

FEATURE_COUNT = 8
HEADER = ("label", *(f"f{i}" for i in range(1, FEATURE_COUNT + 1)))
DEFAULT_PATH = Path(__file__).resolve().parent / "data" / "sample.csv"
# Weights of the hidden logistic model; f8 is pure noise so feature importance means something.
_WEIGHTS = (1.4, -1.1, 0.8, 0.6, -0.5, 0.4, 0.3, 0.0)


def generate(rows: int = 2000, seed: int = 7) -> list[tuple[int, ...] | tuple[float, ...]]:
    """`rows` rows of (label, f1..f8); the label depends on the features with some noise."""
    rng = random.Random(seed)
    data: list = []
    for _ in range(rows):
        features = [round(rng.gauss(0.0, 1.0), 4) for _ in range(FEATURE_COUNT)]
        # An interaction term gives tree models something a linear model cannot see.
        logit = sum(w * x for w, x in zip(_WEIGHTS, features, strict=True))
        logit += 0.7 * features[0] * features[1] - 0.2
        label = 1 if rng.random() < 1.0 / (1.0 + math.exp(-logit)) else 0
        data.append((label, *features))
    return data


def write(path: Path = DEFAULT_PATH, rows: int = 2000, seed: int = 7) -> Path:
    """Write the sample data set with a header row; returns the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(HEADER)
        writer.writerows(generate(rows, seed))
    return path


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=DEFAULT_PATH)
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    print(write(args.output, args.rows, args.seed))


if __name__ == "__main__":
    main()
