"""infra/environment/image_registries.py: registries checked against the SageMaker SDK."""

from __future__ import annotations

import json
from importlib import resources

import aws_cdk as cdk
import pytest

from guardrails.validation import ConfigError
from infra.environment.image_registries import (
    BUILT_IN_ALGORITHM_ACCOUNTS,
    SCIKIT_LEARN_REPOSITORY,
    XGBOOST_REPOSITORY,
    built_in_algorithm_repositories,
)
from pipelines.definition import SKLEARN_VERSION, XGBOOST_VERSION
from tests.infra.conftest import new_app


def sdk_registries(framework: str, version: str, scope: str) -> tuple[str, dict[str, str]]:
    """The repository and region -> account table of the installed SDK's image URI config."""
    path = resources.files("sagemaker.core") / "image_uri_config" / f"{framework}.json"
    entry = json.loads(path.read_text())[scope]["versions"][version]
    return entry["repository"], entry["registries"]


@pytest.mark.parametrize("scope", ["inference", "training"])
def test_the_table_is_the_sdks_for_the_images_the_pipeline_uses(scope):
    assert sdk_registries("xgboost", XGBOOST_VERSION, scope) == (
        XGBOOST_REPOSITORY,
        BUILT_IN_ALGORITHM_ACCOUNTS,
    )
    assert sdk_registries("sklearn", SKLEARN_VERSION, scope) == (
        SCIKIT_LEARN_REPOSITORY,
        BUILT_IN_ALGORITHM_ACCOUNTS,
    )


def test_an_explicit_region_gets_literal_arns_of_its_account():
    stack = cdk.Stack(
        new_app(), "S", env=cdk.Environment(account="111111111111", region="eu-west-1")
    )
    (arn,) = stack.resolve(built_in_algorithm_repositories(stack, [XGBOOST_REPOSITORY]))
    assert arn == "arn:aws:ecr:eu-west-1:141502667606:repository/sagemaker-xgboost"


def test_an_environment_agnostic_stack_looks_the_account_up_when_deployed():
    stack = cdk.Stack(new_app(), "S")
    first = built_in_algorithm_repositories(stack, [XGBOOST_REPOSITORY])
    second = built_in_algorithm_repositories(stack, [SCIKIT_LEARN_REPOSITORY])
    assert "Fn::FindInMap" in json.dumps(stack.resolve(first + second))
    mappings = [c for c in stack.node.children if isinstance(c, cdk.CfnMapping)]
    assert len(mappings) == 1  # one table per stack, however many roles use it


def test_a_region_without_the_images_is_a_config_error():
    stack = cdk.Stack(
        new_app(), "S", env=cdk.Environment(account="111111111111", region="xx-nowhere-1")
    )
    with pytest.raises(ConfigError, match="^region: SageMaker's built-in XGBoost images are not"):
        built_in_algorithm_repositories(stack, [XGBOOST_REPOSITORY])
