"""Sequential canary judge: ``evaluate(request) -> response`` (stateless, standard library only).

One module per job: ``request`` parses and validates the request, ``sequential`` holds the
always-valid per-metric tests and their confidence bounds, ``decision`` decides per metric
and holds ``evaluate``. ``simulation`` (the Monte Carlo of the judge behind the CLI's
``plan`` and ``simulate``) is not imported here: it stays out of the Lambda package.
"""

from __future__ import annotations

from guardrails.judge.decision import LIMIT_ALPHA_SHARE, evaluate
from guardrails.judge.request import DEFAULT_ALPHA, DEFAULT_MIN_SAMPLES, JudgeInputError
from guardrails.judge.sequential import DESIGN_EFFECT, STD_FLOOR

__all__ = [
    "JudgeInputError",
    "evaluate",
    "DEFAULT_ALPHA",
    "DEFAULT_MIN_SAMPLES",
    "DESIGN_EFFECT",
    "LIMIT_ALPHA_SHARE",
    "STD_FLOOR",
]
