"""Evaluation step: score the held-out test split and write the evaluation report.

Runs as a SageMaker processing job in the XGBoost container (which has xgboost) and locally in
tests with a stand-in scorer, so it is one self-contained file that stays runnable on the
container's older Python (3.8): the metrics use only the standard library, and xgboost is
imported only to load the trained model.

The report is SageMaker's model-quality JSON (`binary_classification_metrics`), so the model
registry shows it, plus a `baseline` section the quality gate reads: the AUC of the currently
approved model and how far the candidate falls below it.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
import tarfile
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    Scorer = Callable[[Path, list[list[float]]], list[float]]

REPORT_FILE = "evaluation.json"
MODEL_FILE = "xgboost-model"  # what the built-in XGBoost algorithm writes into model.tar.gz


class EvaluationError(ValueError):
    """The model cannot be judged on this data; the message says why."""


def read_test_split(test_dir: Path) -> tuple[list[int], list[list[float]]]:
    """Labels and features of the headerless, label-first CSVs under test_dir."""
    labels: list[int] = []
    features: list[list[float]] = []
    paths = sorted(test_dir.rglob("*.csv"))
    if not paths:
        raise EvaluationError(f"no .csv files under {test_dir}")
    for path in paths:
        with path.open(newline="") as handle:
            for fields in csv.reader(handle):
                if fields:
                    labels.append(int(float(fields[0])))
                    features.append([float(value) for value in fields[1:]])
    return labels, features


def roc_auc(labels: Sequence[int], scores: Sequence[float]) -> float:
    """Area under the ROC curve (Mann-Whitney U with average ranks for ties)."""
    if len(labels) != len(scores):
        raise EvaluationError(f"{len(labels)} labels but {len(scores)} scores")
    positives = sum(1 for label in labels if label == 1)
    negatives = len(labels) - positives
    if positives == 0 or negatives == 0:
        raise EvaluationError("the test split needs both labels to compute AUC")
    order = sorted(range(len(scores)), key=lambda i: scores[i])
    ranks = [0.0] * len(scores)
    start = 0
    while start < len(order):
        end = start
        while end + 1 < len(order) and scores[order[end + 1]] == scores[order[start]]:
            end += 1
        average_rank = (start + end) / 2 + 1
        for position in range(start, end + 1):
            ranks[order[position]] = average_rank
        start = end + 1
    positive_rank_sum = sum(ranks[i] for i in range(len(labels)) if labels[i] == 1)
    return (positive_rank_sum - positives * (positives + 1) / 2) / (positives * negatives)


def _metric(value: float) -> dict[str, float | str]:
    return {"value": round(value, 6), "standard_deviation": "NaN"}


def build_report(
    labels: Sequence[int], scores: Sequence[float], *, baseline_auc: float, threshold: float = 0.5
) -> dict:
    """The evaluation report: SageMaker model-quality metrics plus the baseline comparison."""
    if not 0 <= baseline_auc <= 1:
        raise EvaluationError(f"baseline AUC must lie between 0 and 1 (got {baseline_auc})")
    if any(not math.isfinite(score) for score in scores):
        raise EvaluationError("the model produced a score that is not a finite number")
    auc = roc_auc(labels, scores)
    pairs = [(labels[i], 1 if scores[i] >= threshold else 0) for i in range(len(labels))]
    tp = sum(1 for label, guess in pairs if label == 1 and guess == 1)
    tn = sum(1 for label, guess in pairs if label == 0 and guess == 0)
    fp = sum(1 for label, guess in pairs if label == 0 and guess == 1)
    fn = sum(1 for label, guess in pairs if label == 1 and guess == 0)
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    has_baseline = baseline_auc > 0
    return {
        "binary_classification_metrics": {
            "auc": _metric(auc),
            "accuracy": _metric((tp + tn) / len(pairs)),
            "precision": _metric(precision),
            "recall": _metric(recall),
            "f1": _metric(f1),
            "confusion_matrix": {"0": {"0": tn, "1": fp}, "1": {"0": fn, "1": tp}},
        },
        "baseline": {
            "has_baseline": has_baseline,
            "auc": round(baseline_auc, 6),
            # How far below the approved model the candidate is; 0 when it is as good or better.
            "auc_drop": round(max(0.0, baseline_auc - auc), 6) if has_baseline else 0.0,
        },
        "threshold": threshold,
        "samples": len(pairs),
        "positives": tp + fn,
    }


def xgboost_scores(model_dir: Path, features: list[list[float]]) -> list[float]:
    """Probabilities from the built-in XGBoost algorithm's model.tar.gz in model_dir."""
    import xgboost  # only in the XGBoost container: tests pass their own scorer

    archives = sorted(model_dir.glob("*.tar.gz"))
    if not archives:
        raise EvaluationError(f"no model archive under {model_dir}")
    # Read the one member we need instead of extracting the archive: no path surprises.
    with tarfile.open(archives[0]) as archive:
        member = archive.extractfile(MODEL_FILE)
        if member is None:
            raise EvaluationError(f"{archives[0].name} holds no {MODEL_FILE}")
        raw = member.read()
    booster = xgboost.Booster()
    booster.load_model(bytearray(raw))  # the 1.3-1 and later containers save XGBoost's format
    scores = booster.predict(xgboost.DMatrix(features))
    return [float(score) for score in scores]


def run(
    *,
    model_dir: Path,
    test_dir: Path,
    output_dir: Path,
    baseline_auc: float,
    threshold: float = 0.5,
    scorer: Scorer = xgboost_scores,
) -> dict:
    """Score the test split, write <output_dir>/evaluation.json and return the report."""
    labels, features = read_test_split(test_dir)
    report = build_report(
        labels, scorer(model_dir, features), baseline_auc=baseline_auc, threshold=threshold
    )
    output_dir.mkdir(parents=True, exist_ok=True)
    (output_dir / REPORT_FILE).write_text(json.dumps(report, indent=2, sort_keys=True))
    return report


def main(argv: list[str] | None = None, scorer: Scorer = xgboost_scores) -> int:
    parser = argparse.ArgumentParser(description="Evaluate the trained model on the test split.")
    parser.add_argument("--model-dir", type=Path, default=Path("/opt/ml/processing/model"))
    parser.add_argument("--test-dir", type=Path, default=Path("/opt/ml/processing/test"))
    parser.add_argument("--output-dir", type=Path, default=Path("/opt/ml/processing/evaluation"))
    parser.add_argument("--baseline-auc", type=float, required=True)
    parser.add_argument("--threshold", type=float, default=0.5)
    args = parser.parse_args(argv)
    try:
        report = run(
            model_dir=args.model_dir,
            test_dir=args.test_dir,
            output_dir=args.output_dir,
            baseline_auc=args.baseline_auc,
            threshold=args.threshold,
            scorer=scorer,
        )
    except EvaluationError as error:
        print(f"evaluate: {error}", file=sys.stderr)
        return 2
    metrics = report["binary_classification_metrics"]
    print(
        f"evaluate: AUC {metrics['auc']['value']}, accuracy {metrics['accuracy']['value']}, "
        f"baseline AUC {report['baseline']['auc']}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
