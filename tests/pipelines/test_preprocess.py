"""pipelines/preprocess.py on the shipped sample data and on bad data."""

from __future__ import annotations

import ast
import csv
from pathlib import Path

import pytest

from pipelines import preprocess, sample_data

SAMPLE = sample_data.DEFAULT_PATH


def read(path: Path) -> list[list[str]]:
    with path.open(newline="") as handle:
        return list(csv.reader(handle))


def test_sample_data_is_small_reproducible_and_shaped_like_the_smoke_test(tmp_path):
    assert SAMPLE.stat().st_size < 200_000
    regenerated = sample_data.write(tmp_path / "sample.csv")
    assert regenerated.read_bytes() == SAMPLE.read_bytes()
    header, *rows = read(SAMPLE)
    assert header == ["label", *(f"f{i}" for i in range(1, 9))]
    assert {row[0] for row in rows} == {"0", "1"}
    assert all(len(row) == 9 for row in rows)


def test_splits_the_sample_into_label_first_headerless_csvs(tmp_path):
    written = preprocess.run(SAMPLE.parent, tmp_path, seed=42)
    sizes = {name: len(read(path)) for name, path in written.items()}
    assert sizes == {"train": 1400, "validation": 300, "test": 300}
    for path in written.values():
        rows = read(path)
        assert rows[0][0] in ("0", "1")  # no header
        assert all(len(row) == 9 for row in rows)
        assert {row[0] for row in rows} == {"0", "1"}


def test_split_is_deterministic_and_loses_no_row(tmp_path):
    first = preprocess.run(SAMPLE.parent, tmp_path / "a", seed=42)
    second = preprocess.run(SAMPLE.parent, tmp_path / "b", seed=42)
    for name in preprocess.SPLITS:
        assert first[name].read_bytes() == second[name].read_bytes()
    together = sorted(tuple(map(float, row)) for path in first.values() for row in read(path))
    original = sorted(tuple(map(float, row)) for row in read(SAMPLE)[1:])
    assert together == original


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("f1,f2\n1,2\n", "sample.csv line 1: the header must start with 'label'"),
        ("label,f1\n2,0.5\n", "sample.csv line 2: label must be 0 or 1 (got '2')"),
        ("label,f1\n1,abc\n", "sample.csv line 2: feature 1 is not a number ('abc')"),
        ("label,f1\n1,nan\n", "sample.csv line 2: feature 1 is not finite ('nan')"),
        ("label,f1,f2\n1,0.5,0.2\n0,0.1\n", "sample.csv line 3: expected 2 features, got 1"),
        ("label,f1\n1,0.5\n0,0.2\n", "need at least 50 data rows to split, got 2"),
        ("label,f1\n" + "1,0.5\n" * 60, "holds only one label"),
    ],
)
def test_bad_data_stops_with_one_line_naming_file_and_line(tmp_path, capsys, content, message):
    (tmp_path / "raw").mkdir()
    (tmp_path / "raw" / "sample.csv").write_text(content)
    code = preprocess.main(["--input-dir", str(tmp_path / "raw"), "--output-dir", str(tmp_path)])
    error = capsys.readouterr().err
    assert code == 2
    assert message in error
    assert error.count("\n") == 1
    assert not (tmp_path / "train").exists()


def test_an_empty_input_directory_is_refused(tmp_path, capsys):
    assert preprocess.main(["--input-dir", str(tmp_path), "--output-dir", str(tmp_path)]) == 2
    assert "no .csv files" in capsys.readouterr().err


@pytest.mark.parametrize("script", ["preprocess.py", "evaluate.py"])
def test_step_scripts_parse_as_python_3_8_and_import_nothing_of_ours(script):
    # They run in SageMaker's scikit-learn and XGBoost containers, whose Python is older.
    source = (Path(preprocess.__file__).parent / script).read_text()
    tree = ast.parse(source, feature_version=(3, 8))
    imported = {
        (node.module or "") if isinstance(node, ast.ImportFrom) else alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    }
    assert not any(name.startswith(("pipelines", "guardrails", "infra")) for name in imported)
    assert "strict=" not in source  # zip(strict=...) needs Python 3.10
