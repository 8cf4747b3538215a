"""The serving-model parameter seam, over moto."""

from __future__ import annotations

import boto3
import pytest
from moto import mock_aws

from guardrails.rollout.serving import NO_MODEL, ServingModel
from guardrails.rollout.state import EventError
from guardrails.services.ssm import ServingModelParameter
from tests.aws import REGION

NAME = "/guardrails/test/serving-model"


@pytest.fixture
def ssm():
    with mock_aws():
        client = boto3.client("ssm", region_name=REGION)
        client.put_parameter(Name=NAME, Value=NO_MODEL.to_json(), Type="String")
        yield client


def test_the_parameter_starts_with_no_model_and_keeps_what_a_rollout_writes(ssm):
    parameter = ServingModelParameter(ssm, NAME)
    assert parameter.read() == NO_MODEL and not parameter.read().has_model
    serving = ServingModel(
        model_package_arn="arn:aws:sagemaker:us-east-1:123456789012:model-package/g/3",
        endpoint_config="config-3",
        deployment_id="d-3",
        updated_at="2026-11-27T12:00:00.000000Z",
    )
    parameter.write(serving)
    assert parameter.read() == serving and serving.has_model


def test_a_value_that_is_no_serving_model_is_refused_naming_the_parameter(ssm):
    ssm.put_parameter(Name=NAME, Value='["config-3"]', Type="String", Overwrite=True)
    with pytest.raises(EventError, match=f"^{NAME}: must be a JSON object"):
        ServingModelParameter(ssm, NAME).read()
