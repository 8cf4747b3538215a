"""The serving model: what an environment's endpoint serves, in one SSM parameter. Pure.

The stateful stack creates the parameter with `NO_MODEL` ("no model yet"); the rollout writes
it at every verified ending (a promotion, a rollback, a first deploy, a failure the endpoint
recovered from): the model package and endpoint config that serve, the deployment that left
them there, and when. The endpoint stack reads it as a CloudFormation parameter, so any
`cdk deploy` builds on what serves now (docs/architecture.md, "Who owns what").
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

from guardrails.rollout.state import EventError


def serving_model_parameter_name(environment: str) -> str:
    """The parameter of an environment, e.g. /guardrails/prod/serving-model."""
    return f"/guardrails/{environment}/serving-model"


@dataclass(frozen=True, kw_only=True)
class ServingModel:
    """The model package and endpoint config that serve ("" for both: no model yet)."""

    model_package_arn: str = ""  # "" when the package of the serving config cannot be told
    endpoint_config: str = ""  # "" while no endpoint serves
    deployment_id: str = ""  # the rollout that left the endpoint there
    updated_at: str = ""  # ISO time it was written

    @property
    def has_model(self) -> bool:
        return bool(self.endpoint_config)

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def parse(cls, text: Any, path: str = "serving_model") -> ServingModel:
        """From the parameter's JSON text; EventError naming the field when it is not one."""
        try:
            raw = json.loads(text) if isinstance(text, str) else None
        except ValueError:
            raw = None
        if not isinstance(raw, dict):
            raise EventError(f"{path}: must be a JSON object (got {str(text)[:80]!r})")
        unknown = sorted(set(raw) - set(cls.__dataclass_fields__))
        if unknown:
            raise EventError(f"{path}.{unknown[0]}: unknown field")
        for name, value in raw.items():
            if not isinstance(value, str):
                raise EventError(f"{path}.{name}: must be a string")
        return cls(**raw)


NO_MODEL = ServingModel()
