"""Rollout permissions: each step's role may do only what its step does, on this endpoint."""

from __future__ import annotations

import json

from aws_cdk.assertions import Capture, Match, Template


def test_the_deploy_step_may_pass_only_the_model_role_to_sagemaker(prod):
    prod.has_resource_properties(
        "AWS::IAM::Policy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        {
                            "Action": "iam:PassRole",
                            "Condition": {
                                "StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}
                            },
                            "Effect": "Allow",
                            "Resource": {"Fn::ImportValue": Match.string_like_regexp("ModelExec")},
                        }
                    ]
                )
            },
            "Roles": [{"Ref": Match.string_like_regexp("^RolloutFunctionsDeployRole")}],
        },
    )


def test_only_this_endpoint_can_be_updated(prod):
    updates = Capture()
    prod.has_resource_properties(
        "AWS::IAM::Policy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Action": [
                                    "sagemaker:UpdateEndpoint",
                                    "sagemaker:UpdateEndpointWeightsAndCapacities",
                                ],
                                "Resource": updates,
                            }
                        )
                    ]
                )
            },
            "Roles": [{"Ref": Match.string_like_regexp("^RolloutFunctionsRollbackRole")}],
        },
    )
    resources = [json.dumps(resource) for resource in updates.as_array()]
    # A literal ARN since @aws-cdk/core:enablePartitionLiterals (no Fn::Join on the partition).
    assert any(r.endswith(':endpoint/guardrails-prod"') for r in resources)
    assert all(":endpoint/guardrails-prod" in r or ":endpoint-config/" in r for r in resources)


def test_the_verdict_may_only_be_published_to_its_namespace(prod):
    prod.has_resource_properties(
        "AWS::IAM::Policy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        {
                            "Action": "cloudwatch:PutMetricData",
                            "Condition": {"StringEquals": {"cloudwatch:namespace": "Guardrails"}},
                            "Effect": "Allow",
                            "Resource": "*",
                        }
                    ]
                )
            },
            "Roles": [{"Ref": Match.string_like_regexp("^RolloutFunctionsJudgeRole")}],
        },
    )


def test_the_smoke_test_cannot_change_the_endpoint(prod):
    (policy,) = [
        p
        for p in prod.find_resources("AWS::IAM::Policy").values()
        if p["Properties"]["Roles"][0]["Ref"].startswith("RolloutFunctionsSmokeTestRole")
    ]
    actions = set()
    for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
        action = statement["Action"]
        actions.update([action] if isinstance(action, str) else action)
    assert {a for a in actions if a.startswith(("sagemaker:", "iam:", "cloudwatch:"))} == {
        "sagemaker:DescribeEndpoint",
        "sagemaker:DescribeEndpointConfig",
        "sagemaker:InvokeEndpoint",
    }


def released_model_readers(template) -> set[str]:
    """The steps whose roles may read released models (their SHA-256, before use)."""
    readers = set()
    for policy in template.find_resources("AWS::IAM::Policy").values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            resources = json.dumps(statement["Resource"])
            if statement["Action"] == "s3:GetObject" and "guardrails-released-" in resources:
                assert resources.endswith('/models/*"'), resources
                role = policy["Properties"]["Roles"][0]["Ref"]
                readers.add(role.removeprefix("RolloutFunctions").split("Role")[0])
    return readers


def test_only_start_and_deploy_read_released_models(prod):
    assert released_model_readers(prod) == {"Start", "Deploy"}


def test_the_rollout_knows_the_pipelines_group_and_released_bucket(template_of):
    for env in ("dev", "prod"):
        template_of(env, "rollout").has_resource_properties(
            "AWS::Lambda::Function",
            {
                "Handler": "guardrails.rollout.handlers.start",
                "Environment": {
                    "Variables": Match.object_like(
                        {
                            "MODEL_PACKAGE_GROUP_NAME": "guardrails-dev",
                            # Derived from the host's account and region, never exported.
                            "RELEASED_BUCKET": "guardrails-released-111111111111-us-east-1",
                        }
                    )
                },
            },
        )


ENCRYPTED_CONFIG_ACTIONS = {
    "sagemaker:UpdateEndpoint",
    "sagemaker:UpdateEndpointWeightsAndCapacities",
    "sagemaker:CreateEndpointConfig",
    "sagemaker:CreateEndpoint",
}


def _actions(statement: dict) -> set[str]:
    action = statement["Action"]
    return {action} if isinstance(action, str) else set(action)


def test_every_role_that_may_move_the_endpoint_may_use_the_environments_key(shipped_stacks):
    """Endpoint configs carry the environment's key: SageMaker takes a grant for the caller.

    Reads every policy of every synthesized stack: a role allowed UpdateEndpoint (or to create
    an endpoint config) without kms:CreateGrant for AWS resources and kms:DescribeKey on the
    stateful stack's key would fail every rollback SageMaker does not do itself.
    """
    checked = 0
    for stacks in shipped_stacks.values():
        for stack in (stacks.stateful, stacks.endpoint, stacks.monitoring, stacks.rollout):
            policies = Template.from_stack(stack).find_resources("AWS::IAM::Policy")
            for name, policy in policies.items():
                statements = policy["Properties"]["PolicyDocument"]["Statement"]
                allowed = set().union(*(_actions(s) for s in statements if s["Effect"] == "Allow"))
                if not allowed & ENCRYPTED_CONFIG_ACTIONS:
                    continue
                checked += 1
                grants = [s for s in statements if "kms:CreateGrant" in _actions(s)]
                assert grants, f"{stack.stack_name}/{name}: no kms:CreateGrant"
                assert all(
                    s["Condition"] == {"Bool": {"kms:GrantIsForAWSResource": "true"}}
                    and "StorageKey" in json.dumps(s["Resource"])
                    for s in grants
                ), name
                describes = [s for s in statements if "kms:DescribeKey" in _actions(s)]
                assert any("StorageKey" in json.dumps(s["Resource"]) for s in describes), name
    # Deploy, Shift, Rollback, RecordFailure and ExecutionEnded in each environment, and Finish
    # (registering autoscaling needs UpdateEndpointWeightsAndCapacities).
    assert checked == 6 * len(shipped_stacks)

