"""Events nobody may lose: every rule target of an environment, and the package-state handler."""

from __future__ import annotations

import pytest
from aws_cdk.assertions import Match

from tests.infra.dead_letters import assert_encrypted_queue_pages_on_call
from tests.infra.test_pipeline_stack import shipped_pipeline

pytestmark = pytest.mark.xdist_group("pipeline")  # the pipeline is built once per worker


@pytest.mark.parametrize("part", ["rollout", "monitoring"])
def test_every_rule_target_of_an_environment_has_dead_letters(template_of, part):
    for env in ("dev", "prod"):
        rules = template_of(env, part).find_resources("AWS::Events::Rule")
        targets = [t for rule in rules.values() for t in rule["Properties"]["Targets"]]
        assert targets and all("DeadLetterConfig" in t for t in targets), (env, part)


def test_a_lost_rejection_pages_on_call():
    """The package-state handler: its rule's target and its own asynchronous invocations."""
    _, template = shipped_pipeline()
    (rule,) = template.find_resources(
        "AWS::Events::Rule",
        {"Properties": {"EventPattern": {"detail-type": ["SageMaker Model Package State Change"]}}},
    ).values()
    (target,) = rule["Properties"]["Targets"]
    queue = target["DeadLetterConfig"]["Arn"]["Fn::GetAtt"][0]
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Handler": "guardrails.release.handlers.package_state",
            "DeadLetterConfig": {"TargetArn": {"Fn::GetAtt": [queue, "Arn"]}},
        },
    )
    assert_encrypted_queue_pages_on_call(template, queue, topic=Match.any_value())
