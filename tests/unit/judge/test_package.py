"""guardrails.judge as callers see it: the public API, and the simulator kept out of Lambda."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import guardrails
import guardrails.judge

ROOT = Path(__file__).resolve().parents[3]
PACKAGE = Path(guardrails.__file__).parent
# What infra/lambda_code.py leaves out of the Lambda package.
NOT_SHIPPED = {"cli", "__main__.py", "simulation.py", "cloudwatch_simulation.py"}


def test_the_public_api_is_importable_from_the_package() -> None:
    from guardrails.judge import (
        DEFAULT_ALPHA,
        DEFAULT_MIN_SAMPLES,
        DESIGN_EFFECT,
        LIMIT_ALPHA_SHARE,
        JudgeInputError,
        evaluate,
    )

    assert (DEFAULT_ALPHA, DEFAULT_MIN_SAMPLES, DESIGN_EFFECT, LIMIT_ALPHA_SHARE) == (
        0.05,
        100,
        2.0,
        0.1,
    )
    assert issubclass(JudgeInputError, ValueError)
    assert evaluate({})["decision"] == "continue"
    for name in guardrails.judge.__all__:
        assert getattr(guardrails.judge, name) is not None, name


def _shipped_modules() -> list[str]:
    modules = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE).parts
        if NOT_SHIPPED & set(parts):
            continue
        name = ".".join(("guardrails", *parts))[: -len(".py")]
        modules.append(name.removesuffix(".__init__"))
    return modules


def test_no_module_the_lambda_ships_imports_the_simulator_or_the_cli() -> None:
    shipped = _shipped_modules()
    assert "guardrails.judge" in shipped and "guardrails.rollout.handlers" in shipped
    code = (
        "import importlib, json, sys\n"
        "for name in sys.argv[1:]:\n"
        "    importlib.import_module(name)\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, *shipped],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    loaded = set(json.loads(result.stdout))
    assert "guardrails.judge.decision" in loaded
    assert "guardrails.judge.simulation" not in loaded
    assert "guardrails.judge.cloudwatch_simulation" not in loaded
    assert "numpy" not in loaded  # a development dependency only
    assert not any(name.startswith("guardrails.cli") for name in loaded)
