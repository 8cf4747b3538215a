"""What the endpoint, monitoring and rollout stacks of one environment start from."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from constructs import Construct

from infra.config import EnvironmentConfig
from stacks.stateful_stack import StatefulStack


class EnvironmentStack(cdk.Stack):
    """A stateless stack of one environment, built on that environment's stateful stack."""

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        config: EnvironmentConfig,
        stateful: StatefulStack,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, id_, **kwargs)
        self.config = config
        self.stateful = stateful
