"""Preprocessing step: validate the raw CSV rows and split them into train, validation and test.

Runs as a SageMaker processing job (`python3 preprocess.py ...` in the scikit-learn container)
and locally in tests, so it is one self-contained file using only the standard library, and
it stays runnable on the container's older Python (3.8): generics only in annotations.
Input: CSV files with a header row, the 0/1 label first, then numeric features.
Output: headerless CSVs, label first, as SageMaker's built-in XGBoost expects them.
"""

from __future__ import annotations

import argparse
import csv
import math
import random
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

SPLITS = ("train", "validation", "test")
MIN_ROWS = 50


class DataError(ValueError):
    """The input data cannot be trained on; the message names the file and line."""


def read_rows(paths: Iterable[Path]) -> list[list[float]]:
    """All data rows of the CSV files, validated: label 0/1, the same number of finite features."""
    rows: list[list[float]] = []
    width: int | None = None
    for path in paths:
        with path.open(newline="") as handle:
            reader = csv.reader(handle)
            header = next(reader, None)
            if not header or header[0].strip().lower() != "label":
                raise DataError(f"{path.name} line 1: the header must start with 'label'")
            for line_number, fields in enumerate(reader, start=2):
                if not fields:
                    continue
                row = _parse(fields, f"{path.name} line {line_number}")
                if width is None:
                    width = len(row)
                elif len(row) != width:
                    raise DataError(
                        f"{path.name} line {line_number}: expected {width - 1} features, "
                        f"got {len(row) - 1}"
                    )
                rows.append(row)
    if len(rows) < MIN_ROWS:
        raise DataError(f"need at least {MIN_ROWS} data rows to split, got {len(rows)}")
    return rows


def _parse(fields: Sequence[str], where: str) -> list[float]:
    label = fields[0].strip()
    if label not in ("0", "1"):
        raise DataError(f"{where}: label must be 0 or 1 (got {label!r})")
    if len(fields) < 2:
        raise DataError(f"{where}: no features after the label")
    values = [float(label)]
    for column, text in enumerate(fields[1:], start=1):
        try:
            value = float(text)
        except ValueError:
            raise DataError(f"{where}: feature {column} is not a number ({text!r})") from None
        if not math.isfinite(value):
            raise DataError(f"{where}: feature {column} is not finite ({text!r})")
        values.append(value)
    return values


def split(
    rows: Sequence[list[float]], *, seed: int, validation_fraction: float, test_fraction: float
) -> dict[str, list[list[float]]]:
    """Shuffle deterministically and cut into train, validation and test; each holds both labels."""
    if not (0 < validation_fraction < 1 and 0 < test_fraction < 1):
        raise DataError("validation and test fractions must lie between 0 and 1")
    if validation_fraction + test_fraction >= 0.9:
        raise DataError("validation and test fractions must leave at least 10 % for training")
    shuffled = list(rows)
    random.Random(seed).shuffle(shuffled)
    test_count = max(1, round(len(shuffled) * test_fraction))
    validation_count = max(1, round(len(shuffled) * validation_fraction))
    parts = {
        "test": shuffled[:test_count],
        "validation": shuffled[test_count : test_count + validation_count],
        "train": shuffled[test_count + validation_count :],
    }
    for name, part in parts.items():
        if len({row[0] for row in part}) < 2:
            raise DataError(f"the {name} split holds only one label; add rows of both labels")
    return parts


def write_splits(parts: dict[str, list[list[float]]], output_dir: Path) -> dict[str, Path]:
    """Write each split to <output_dir>/<split>/<split>.csv without a header."""
    written = {}
    for name in SPLITS:
        path = output_dir / name / f"{name}.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", newline="") as handle:
            writer = csv.writer(handle, lineterminator="\n")
            for row in parts[name]:
                writer.writerow([int(row[0]), *(_format(v) for v in row[1:])])
        written[name] = path
    return written


def _format(value: float) -> str:
    return repr(int(value)) if value.is_integer() else repr(value)


def run(
    input_dir: Path,
    output_dir: Path,
    *,
    seed: int = 42,
    validation_fraction: float = 0.15,
    test_fraction: float = 0.15,
) -> dict[str, Path]:
    """Read every CSV under input_dir and write the three splits under output_dir."""
    paths = sorted(input_dir.rglob("*.csv"))
    if not paths:
        raise DataError(f"no .csv files under {input_dir}")
    rows = read_rows(paths)
    parts = split(
        rows, seed=seed, validation_fraction=validation_fraction, test_fraction=test_fraction
    )
    return write_splits(parts, output_dir)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Validate and split the raw training data.")
    parser.add_argument("--input-dir", type=Path, default=Path("/opt/ml/processing/raw"))
    parser.add_argument("--output-dir", type=Path, default=Path("/opt/ml/processing"))
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--validation-fraction", type=float, default=0.15)
    parser.add_argument("--test-fraction", type=float, default=0.15)
    args = parser.parse_args(argv)
    try:
        written = run(
            args.input_dir,
            args.output_dir,
            seed=args.seed,
            validation_fraction=args.validation_fraction,
            test_fraction=args.test_fraction,
        )
    except DataError as error:
        print(f"preprocess: {error}", file=sys.stderr)
        return 2
    for name, path in written.items():
        print(f"preprocess: wrote {name} to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
