"""pipelines/evaluate.py: the metrics file on the sample data, and the metrics themselves."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from pipelines import evaluate, preprocess, sample_data


@pytest.fixture(scope="module")
def splits(tmp_path_factory) -> dict[str, Path]:
    return preprocess.run(sample_data.DEFAULT_PATH.parent, tmp_path_factory.mktemp("splits"))


def load(path: Path) -> tuple[np.ndarray, np.ndarray]:
    data = np.loadtxt(path, delimiter=",")
    return data[:, 0], data[:, 1:]


@pytest.fixture(scope="module")
def stand_in_scorer(splits):
    """A model trained locally on the train split, standing in for the XGBoost container."""
    labels, features = load(splits["train"])
    model = LogisticRegression().fit(features, labels)

    def score(model_dir: Path, rows: list[list[float]]) -> list[float]:
        return model.predict_proba(np.array(rows))[:, 1].tolist()

    return score


def run_on(splits, scorer, tmp_path, baseline_auc: float) -> dict:
    output = tmp_path / "evaluation"
    code = evaluate.main(
        [
            "--model-dir", str(tmp_path),
            "--test-dir", str(splits["test"].parent),
            "--output-dir", str(output),
            "--baseline-auc", str(baseline_auc),
        ],
        scorer=scorer,
    )  # fmt: skip
    assert code == 0
    return json.loads((output / evaluate.REPORT_FILE).read_text())


def test_metrics_file_on_the_sample_data(splits, stand_in_scorer, tmp_path):
    report = run_on(splits, stand_in_scorer, tmp_path, baseline_auc=0.0)
    labels, features = load(splits["test"])
    expected_auc = roc_auc_score(labels, stand_in_scorer(tmp_path, features.tolist()))
    metrics = report["binary_classification_metrics"]
    assert metrics["auc"]["value"] == pytest.approx(expected_auc, abs=1e-6)
    assert metrics["auc"]["value"] > 0.75  # the sample data carries real signal
    assert 0.5 < metrics["accuracy"]["value"] <= 1
    matrix = metrics["confusion_matrix"]
    assert sum(matrix[a][b] for a in "01" for b in "01") == report["samples"] == 300
    assert report["positives"] == int(labels.sum())
    assert report["baseline"] == {"has_baseline": False, "auc": 0.0, "auc_drop": 0.0}


def test_report_measures_the_drop_against_the_approved_model(splits, stand_in_scorer, tmp_path):
    report = run_on(splits, stand_in_scorer, tmp_path, baseline_auc=0.99)
    auc = report["binary_classification_metrics"]["auc"]["value"]
    assert report["baseline"]["has_baseline"]
    assert report["baseline"]["auc_drop"] == pytest.approx(0.99 - auc, abs=1e-6)


def test_a_better_candidate_has_no_drop(splits, stand_in_scorer, tmp_path):
    report = run_on(splits, stand_in_scorer, tmp_path, baseline_auc=0.6)
    assert report["baseline"]["auc_drop"] == 0.0


def test_a_baseline_outside_0_1_is_refused(splits, stand_in_scorer, tmp_path, capsys):
    args = ["--test-dir", str(splits["test"].parent), "--output-dir", str(tmp_path / "out")]
    assert evaluate.main([*args, "--baseline-auc", "1.5"], scorer=stand_in_scorer) == 2
    assert "baseline AUC must lie between 0 and 1" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_a_model_that_returns_nan_is_refused(splits, tmp_path, capsys):
    def broken(model_dir, rows):
        return [float("nan")] * len(rows)

    args = ["--test-dir", str(splits["test"].parent), "--output-dir", str(tmp_path / "out")]
    assert evaluate.main([*args, "--baseline-auc", "0"], scorer=broken) == 2
    assert "not a finite number" in capsys.readouterr().err


def test_auc_needs_both_labels():
    with pytest.raises(evaluate.EvaluationError, match="needs both labels"):
        evaluate.roc_auc([1, 1], [0.2, 0.4])


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 1), st.sampled_from([0.0, 0.1, 0.25, 0.5, 0.75, 1.0])),
        min_size=2,
        max_size=60,
    ).filter(lambda pairs: len({label for label, _ in pairs}) == 2)
)
def test_auc_matches_scikit_learn_with_ties(pairs):
    labels = [label for label, _ in pairs]
    scores = [score for _, score in pairs]
    assert evaluate.roc_auc(labels, scores) == pytest.approx(roc_auc_score(labels, scores))
