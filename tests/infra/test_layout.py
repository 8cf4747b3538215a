"""infra/ shows the architecture: a small top level of shared helpers, a folder per component."""

from __future__ import annotations

from pathlib import Path

INFRA = Path(__file__).resolve().parents[2] / "infra"
MAX_TOP_LEVEL_ENTRIES = 12


def entries(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.name != "__pycache__")


def test_infra_has_at_most_twelve_top_level_entries():
    names = [p.name for p in entries(INFRA)]
    assert len(names) <= MAX_TOP_LEVEL_ENTRIES, names


def test_every_infra_folder_is_a_package():
    folders = [p for p in entries(INFRA) if p.is_dir()]
    assert {p.name for p in folders} >= {"environment", "rollout", "pipeline"}
    for folder in folders:
        assert (folder / "__init__.py").is_file(), folder.name
