"""The Lambda package: the runtime code and Powertools, nothing the CLI or tests need."""

from __future__ import annotations

import pytest

from infra.lambda_code import _LocalBundling

MAX_PACKAGE_BYTES = 15 * 1024 * 1024


@pytest.fixture(scope="module")
def package(tmp_path_factory):
    out = tmp_path_factory.mktemp("lambda")
    assert _LocalBundling().try_bundle(str(out)) is True
    return out


def test_package_holds_handlers_judge_and_powertools(package):
    for module in ("__init__", "request", "sequential", "decision"):
        assert (package / "guardrails" / "judge" / f"{module}.py").is_file(), module
    assert (package / "guardrails" / "rollout" / "handlers.py").is_file()
    assert (package / "guardrails" / "release" / "handlers.py").is_file()
    assert (package / "aws_lambda_powertools").is_dir()


def test_package_leaves_out_the_cli_and_heavy_libraries(package):
    assert not (package / "guardrails" / "cli").exists()
    assert not (package / "guardrails" / "__main__.py").exists()
    assert not (package / "guardrails" / "judge" / "simulation.py").exists()
    for heavy in ("numpy", "scipy", "pydantic", "botocore", "matplotlib"):
        assert not (package / heavy).exists(), heavy
    assert not list(package.rglob("__pycache__"))


def test_package_stays_small(package):
    size = sum(path.stat().st_size for path in package.rglob("*") if path.is_file())
    assert size < MAX_PACKAGE_BYTES
