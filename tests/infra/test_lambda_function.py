"""GuardrailsFunction: the handler as given, its own role and encrypted logs, ids kept."""

from __future__ import annotations

import aws_cdk as cdk
import aws_cdk.aws_lambda as lambda_
import pytest
from aws_cdk.assertions import Match, Template
from constructs import Construct

from infra.encrypted_logs import EncryptedLogs
from infra.lambda_code import RUNTIME
from infra.lambda_function import GuardrailsFunction

# Where the runtime package may move its handlers: the construct must not care.
MOVED_HANDLER = "guardrails.rollout.handlers.judge.handler"


def function_in(scope: Construct, **kwargs) -> tuple[GuardrailsFunction, EncryptedLogs]:
    logs = EncryptedLogs(cdk.Stack.of(scope), "Logs", description="Test logs", retain=False)
    props = {
        "handler": MOVED_HANDLER,
        "description": "A test function",
        "environment": {"SETTING": "value"},
        "code": lambda_.Code.from_inline("def handler(event, context):\n    return event\n"),
        "logs": logs,
        **kwargs,
    }
    return GuardrailsFunction(scope, **props), logs


@pytest.fixture(scope="module")
def grouped() -> Template:
    """Two functions side by side in one scope, like the rollout's steps."""
    stack = cdk.Stack(cdk.App(), "Test")
    group = Construct(stack, "Functions")
    function_in(group, id_prefix="Judge", timeout=cdk.Duration.seconds(120))
    GuardrailsFunction(
        group,
        id_prefix="Deploy",
        handler="guardrails.rollout.handlers.deploy",
        description="Another test function",
        role_description="What the role is for",
        environment={},
        code=lambda_.Code.from_inline("def handler(event, context):\n    return event\n"),
        logs=EncryptedLogs(stack, "MoreLogs", description="More test logs", retain=False),
    )
    return Template.from_stack(stack)


def test_the_handler_is_used_exactly_as_given(grouped):
    grouped.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Handler": MOVED_HANDLER,
            "Runtime": RUNTIME.name,
            "Timeout": 120,
            "MemorySize": 256,
            "TracingConfig": {"Mode": "Active"},
            "Environment": {"Variables": {"SETTING": "value"}},
        },
    )


def test_ids_carry_the_prefix_in_the_given_scope(grouped):
    ids = set(grouped.to_json()["Resources"])
    for prefix in ("Judge", "Deploy"):
        for kind in ("Role", "Logs", "Function"):
            assert any(i.startswith(f"Functions{prefix}{kind}") for i in ids), (prefix, kind)


def test_each_function_has_its_own_role_described_by_default_as_the_function(grouped):
    grouped.has_resource_properties(
        "AWS::IAM::Role",
        {"Description": "A test function", "AssumeRolePolicyDocument": Match.any_value()},
    )
    grouped.has_resource_properties("AWS::IAM::Role", {"Description": "What the role is for"})


def test_logs_are_encrypted_retained_and_written_only_after_the_policy_exists(grouped):
    for function in grouped.find_resources("AWS::Lambda::Function").values():
        (policy,) = function["DependsOn"]
        assert grouped.to_json()["Resources"][policy]["Type"] == "AWS::IAM::Policy"
        log_group = function["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
        properties = grouped.to_json()["Resources"][log_group]["Properties"]
        assert "KmsKeyId" in properties and properties["RetentionInDays"] == 90


def test_a_lone_function_takes_plain_ids_in_a_scope_of_its_own():
    stack = cdk.Stack(cdk.App(), "Test")
    function_in(Construct(stack, "MarkApproved"))
    ids = set(Template.from_stack(stack).to_json()["Resources"])
    for kind in ("Role", "Logs", "Function"):
        assert any(i.startswith(f"MarkApproved{kind}") for i in ids), kind


@pytest.mark.parametrize("handler", ["judge", "handler", ".handler", "guardrails.handlers."])
def test_a_handler_that_is_not_a_module_function_path_is_refused(handler):
    stack = cdk.Stack(cdk.App(), "Test")
    with pytest.raises(ValueError, match="dotted module.function"):
        function_in(stack, handler=handler)
