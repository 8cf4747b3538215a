"""guardrails/arns.py: the one model package ARN pattern."""

from __future__ import annotations

import pytest

from guardrails.arns import execution_arn, parse_model_package_arn


def test_a_versioned_model_package_arn_is_parsed():
    parsed = parse_model_package_arn(
        "arn:aws:sagemaker:eu-west-1:123456789012:model-package/guardrails-prod/42"
    )
    assert parsed is not None
    assert (parsed.region, parsed.account, parsed.group, parsed.version) == (
        "eu-west-1",
        "123456789012",
        "guardrails-prod",
        42,
    )


@pytest.mark.parametrize(
    "arn",
    [
        None,
        7,
        "arn:aws:sagemaker:eu-west-1:123456789012:model-package/guardrails-prod",
        "arn:aws:sagemaker:eu-west-1:123456789012:model-package/guardrails-prod/latest",
        "arn:aws:sagemaker:eu-west-1:1234:model-package/g/1",
        "arn:aws:s3:::bucket/model-package/g/1",
        "arn:aws:sagemaker:eu-west-1:123456789012:model-package/-bad/1",
    ],
)
def test_anything_else_is_not_a_model_package(arn):
    assert parse_model_package_arn(arn) is None


def test_an_execution_arn_is_derived_from_its_state_machine():
    machine = "arn:aws:states:eu-west-1:123456789012:stateMachine:Rollout"
    assert execution_arn(machine, "run-1") == (
        "arn:aws:states:eu-west-1:123456789012:execution:Rollout:run-1"
    )
