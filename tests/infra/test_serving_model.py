"""Issue 14 over every synthesized template: no parameter to pass, one writer of what serves.

- `cdk deploy --all` needs no `--parameters`: every CloudFormation parameter has a default;
- the serving-model parameter is written by the rollout's ending steps only, and they may write
  no other parameter;
- its resource's properties are locked: CloudFormation puts the template's value ("no model
  yet") back whenever it updates the resource.
"""

from __future__ import annotations

import json

import pytest

from guardrails.rollout.serving import NO_MODEL, serving_model_parameter_name
from tests.infra.test_policies import Grant, _grants

pytestmark = pytest.mark.xdist_group("gates")  # shares the synthesized app with test_gates

# The ending steps: they verify the endpoint, then record what serves.
WRITERS = ("RolloutFunctionsFinishRole", "RolloutFunctionsRecordFailureRole",
           "RolloutFunctionsExecutionEndedRole")  # fmt: skip
PARAMETER_ID = "ServingModelParameter56D6A844"


def test_no_template_has_a_parameter_without_a_default(assembly):
    for stack in assembly.stacks:
        for parameter, spec in stack.template.get("Parameters", {}).items():
            assert "Default" in spec, f"{stack.stack_name}: parameter {parameter} has no default"


@pytest.fixture(scope="module")
def parameter_writes(assembly) -> list[Grant]:
    """Every statement of every stack that may put an SSM parameter."""
    grants = _grants({stack.stack_name: stack.template for stack in assembly.stacks})
    return [grant for grant in grants if grant.allows("ssm:PutParameter")]


def test_only_the_rollouts_ending_steps_may_write_the_serving_model(parameter_writes):
    by_env: dict[str, set[str]] = {}
    for grant in parameter_writes:
        env = grant.stack.split("-")[1]
        assert grant.stack == f"Guardrails-{env}-Rollout", grant
        (role,) = json.loads(grant.principals)
        by_env.setdefault(env, set()).add(role.split(":")[1].split("Role")[0] + "Role")
        # The one parameter of its own environment, nothing else.
        (resource,) = grant.resources
        assert resource.endswith(f":parameter{serving_model_parameter_name(env)}"), resource
    assert by_env == {env: set(WRITERS) for env in ("dev", "staging", "prod")}


def test_nobody_may_put_any_other_parameter(parameter_writes):
    for grant in parameter_writes:
        assert all("*" not in resource for resource in grant.resources), grant


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_the_parameter_resource_is_locked(assembly, env):
    """Changing any of these makes CloudFormation write "no model yet" over what serves."""
    template = assembly.get_stack_by_name(f"Guardrails-{env}-Stateful").template
    resource = template["Resources"][PARAMETER_ID]
    assert resource["Properties"] == {
        "Name": serving_model_parameter_name(env),
        "Type": "String",
        "Tier": "Standard",
        "Value": NO_MODEL.to_json(),
        "Description": "Guardrails: the model package and endpoint config that serve "
        "(written by the rollout; never edit this resource's properties)",
        "Tags": {"environment": env, "project": "sagemaker-deployment-guardrails"},
    }
