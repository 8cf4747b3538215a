"""ARNs the runtime reads: one pattern each, so every check means the same thing."""

from __future__ import annotations

import re
from dataclasses import dataclass

# A versioned model package of a group: .../model-package/<group>/<version>.
MODEL_PACKAGE_ARN = re.compile(
    r"^arn:aws[a-z-]*:sagemaker:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):"
    r"model-package/(?P<group>[A-Za-z0-9](-*[A-Za-z0-9]){0,62})/(?P<version>\d+)$"
)


@dataclass(frozen=True)
class ModelPackageArn:
    """The parts of a versioned model package ARN."""

    arn: str
    region: str
    account: str
    group: str
    version: int


def parse_model_package_arn(arn: object) -> ModelPackageArn | None:
    """The parts of `arn`, or None when it is not a versioned model package ARN."""
    if not isinstance(arn, str):
        return None
    match = MODEL_PACKAGE_ARN.match(arn)
    if match is None:
        return None
    return ModelPackageArn(
        arn=arn,
        region=match["region"],
        account=match["account"],
        group=match["group"],
        version=int(match["version"]),
    )


def execution_arn(state_machine_arn: str, execution_name: str) -> str:
    """The ARN of the named execution of a state machine."""
    return f"{state_machine_arn.replace(':stateMachine:', ':execution:')}:{execution_name}"
