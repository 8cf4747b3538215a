"""The rollout's cross-account face: the role the pipeline assumes, and the names others use."""

from __future__ import annotations

import json

import pytest
from aws_cdk.assertions import Match

from infra.environment.identities import RELEASE_READING_STEPS, Placement
from infra.rollout.functions import STEPS
from tests.infra.conftest import TEST_ACCOUNT, TEST_REGION

READS_RELEASES = {"verify_release", "read_model_packages", "create_models"}


def test_the_named_readers_are_the_steps_that_read_packages_or_released_models():
    """The host's policies name exactly these roles: a step that starts reading must be named."""
    reading = {name for name, step in STEPS.items() if READS_RELEASES & set(step.capabilities)}
    assert set(RELEASE_READING_STEPS) == reading


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_the_state_machine_and_reading_steps_have_their_derived_names(template_of, env):
    template = template_of(env, "rollout")
    template.has_resource_properties(
        "AWS::StepFunctions::StateMachine", {"StateMachineName": f"guardrails-{env}-rollout"}
    )
    for step in RELEASE_READING_STEPS:
        template.has_resource_properties(
            "AWS::IAM::Role",
            {"RoleName": f"guardrails-{env}-rollout-{step.lower()}-{TEST_REGION}"},
        )


def test_only_deploy_environments_expose_a_release_access_role(template_of):
    for env, expected in (("dev", 0), ("staging", 1), ("prod", 1)):
        roles = template_of(env, "rollout").find_resources(
            "AWS::IAM::Role",
            {"Properties": {"RoleName": Match.string_like_regexp("release-access")}},
        )
        assert len(roles) == expected, env


def test_in_one_account_the_access_role_trusts_the_pipelines_roles_of_that_account(template_of):
    (role,) = (
        template_of("prod", "rollout")
        .find_resources(
            "AWS::IAM::Role",
            {"Properties": {"RoleName": f"guardrails-prod-release-access-{TEST_REGION}"}},
        )
        .values()
    )
    (statement,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert f":iam::{TEST_ACCOUNT}:root" in json.dumps(statement["Principal"])
    trusted = json.dumps(statement["Condition"]["ArnEquals"]["aws:PrincipalArn"])
    assert f":iam::{TEST_ACCOUNT}:role/guardrails-dev-pipeline-{TEST_REGION}" in trusted
    assert f":iam::{TEST_ACCOUNT}:role/guardrails-dev-package-state-{TEST_REGION}" in trusted


def test_role_names_stay_within_iams_limit():
    placement = Placement(
        name="a" * 16, account=TEST_ACCOUNT, region="ap-southeast-2", partition="aws"
    )
    assert len(placement.role_name("release-access")) <= 64
    with pytest.raises(ValueError, match="longer than 64"):
        placement.role_name("x" * 30)
