"""The SSM seam: the serving-model parameter, read by the reconciler and written by rollouts."""

from __future__ import annotations

from typing import Any

from guardrails.rollout.serving import ServingModel


class ServingModelParameter:
    """GetParameter and PutParameter of one environment's serving-model parameter."""

    def __init__(self, client: Any, name: str) -> None:
        self._client = client
        self.name = name

    def read(self) -> ServingModel:
        """What the parameter says serves (EventError when its value is not a serving model)."""
        response = self._client.get_parameter(Name=self.name)
        return ServingModel.parse(response["Parameter"]["Value"], path=self.name)

    def write(self, serving: ServingModel) -> None:
        """Overwrite the value; CloudFormation's copy of the resource keeps its own properties."""
        self._client.put_parameter(
            Name=self.name, Value=serving.to_json(), Type="String", Overwrite=True
        )
