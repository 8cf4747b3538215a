"""The README's quick start and settings reference stay true to the code."""

from __future__ import annotations

import re
from dataclasses import fields
from pathlib import Path

import pytest

from guardrails.config import TrafficSettings
from infra.config import (
    DeploymentSettings,
    EndpointSettings,
    EnvironmentConfig,
    JudgeSettings,
    PipelineSettings,
)

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()


@pytest.mark.parametrize(
    ("prefix", "settings"),
    [
        ("endpoint.", EndpointSettings),
        ("deployment.", DeploymentSettings),
        ("judge.", JudgeSettings),
        ("traffic.", TrafficSettings),
        ("", PipelineSettings),
    ],
)
def test_every_setting_is_documented(prefix, settings):
    missing = [f.name for f in fields(settings) if f"`{prefix}{f.name}`" not in README]
    assert missing == []


def test_every_top_level_setting_is_documented():
    nested = {"name", "endpoint", "deployment", "judge", "traffic"}
    missing = [
        f.name
        for f in fields(EnvironmentConfig)
        if f.name not in nested and f"`{f.name}`" not in README
    ]
    assert missing == []


def test_quick_start_has_exactly_the_two_commands():
    quick_start = README.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    commands = re.findall(r"^make \w+", quick_start, flags=re.MULTILINE)
    assert commands == ["make synth", "make test"]


def test_ci_runs_the_readme_test_command():
    assert "make test" in (ROOT / ".ci" / "run").read_text()
