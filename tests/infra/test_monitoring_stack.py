"""Monitoring stack: dashboard and deployment-state notifications."""

from __future__ import annotations

import json

from aws_cdk.assertions import Capture, Match

from tests.infra.dead_letters import assert_encrypted_queue_pages_on_call


def test_dashboard_shows_traffic_errors_latency_and_verdict(template_of):
    template = template_of("prod", "monitoring")
    dashboards = template.find_resources("AWS::CloudWatch::Dashboard")
    (dashboard,) = dashboards.values()
    body = json.dumps(dashboard["Properties"]["DashboardBody"])
    for metric in ("Invocations", "Invocation5XXErrors", "ModelLatency", "JudgeVerdict"):
        assert metric in body, metric
    assert "guardrails-prod" in body


def test_deployment_state_changes_reach_on_call_readably(template_of):
    template = template_of("prod", "monitoring")
    queue = Capture()
    template.has_resource_properties(
        "AWS::Events::Rule",
        {
            "EventPattern": {
                "source": ["aws.sagemaker"],
                "detail-type": ["SageMaker Endpoint Deployment State Change"],
                "detail": {"EndpointName": ["guardrails-prod"]},
            },
            "Targets": [
                Match.object_like(
                    {
                        "Arn": {"Fn::ImportValue": Match.string_like_regexp("OnCallTopic")},
                        "DeadLetterConfig": {"Arn": {"Fn::GetAtt": [queue, "Arn"]}},
                        "InputTransformer": {
                            "InputPathsMap": Match.object_like({"detail-State": "$.detail.State"}),
                            "InputTemplate": Match.string_like_regexp(
                                "endpoint guardrails-prod deployment is now <detail-State>"
                            ),
                        },
                    }
                )
            ],
        },
    )
    assert_encrypted_queue_pages_on_call(template, queue.as_string())


def test_eventbridge_publishes_to_on_call_with_a_role_scoped_to_the_topic(template_of):
    """A role's grant, not a topic or key policy statement for every rule of every account."""
    template = template_of("prod", "monitoring")
    role = Capture()
    template.has_resource_properties(
        "AWS::Events::Rule",
        {
            "Targets": [
                Match.object_like(
                    {
                        "Arn": {"Fn::ImportValue": Match.string_like_regexp("OnCallTopic")},
                        "RoleArn": {"Fn::GetAtt": [role, "Arn"]},
                    }
                )
            ]
        },
    )
    template.has_resource_properties(
        "AWS::IAM::Policy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Action": "sns:Publish",
                                "Resource": {
                                    "Fn::ImportValue": Match.string_like_regexp("OnCallTopic")
                                },
                            }
                        )
                    ]
                )
            },
            "Roles": [{"Ref": role.as_string()}],
        },
    )
