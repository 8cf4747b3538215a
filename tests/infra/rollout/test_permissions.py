"""Rollout permissions: each step's role may do only what its step does, on this endpoint."""

from __future__ import annotations

import json

from aws_cdk.assertions import Capture, Match


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
