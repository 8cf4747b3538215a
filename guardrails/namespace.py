"""The project's CloudWatch namespace: Powertools metrics and the judge's verdict publish there.

A module of its own, free of Lambda-only imports, so that synth can name it too.
"""

from __future__ import annotations

NAMESPACE = "Guardrails"
