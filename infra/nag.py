"""Acknowledging cdk-nag findings on the one construct they concern, each with its reason.

Findings are named from resolved values. A stack that grants on other stacks' resources (the
pipeline on the stateful stacks' bucket, key and state machines) sees those references
(Fn::ImportValue) only when the app is prepared; the `*_when_resolved` and `granted` helpers
acknowledge then: in a construct validation, which CDK runs after references are resolved and
before cdk-nag reads them.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import aws_cdk as cdk
import aws_cdk.aws_iam as iam
import jsii
from constructs import IConstruct, IValidation

NAG_NAMESPACE = "AwsSolutions::"
_MIN_REASON_LENGTH = 20


def acknowledge(scope: IConstruct, rule_id: str, reason: str) -> None:
    """Suppress `rule_id` (e.g. "AwsSolutions-S1") for `scope` and below only."""
    if len(reason) < _MIN_REASON_LENGTH:
        raise ValueError(f"reason for {rule_id}: say why in a full sentence (got {reason!r})")
    cdk.Validations.of(scope).acknowledge(
        cdk.Acknowledgment(id=NAG_NAMESPACE + rule_id, reason=reason)
    )


def acknowledge_wildcards(
    scope: IConstruct,
    reason: str,
    *,
    actions: Iterable[str] = (),
    resources: Iterable[str] = (),
) -> None:
    """Suppress AwsSolutions-IAM5 for exactly these wildcard actions and resources.

    Resources may be tokens of `scope`'s own stack; they are rendered the way cdk-nag names
    its findings, so each acknowledgment covers one finding and nothing more.
    """
    stack = cdk.Stack.of(scope)
    for action in actions:
        acknowledge(scope, f"AwsSolutions-IAM5[Action::{action}]", reason)
    for resource in resources:
        rendered = flatten_reference(stack.resolve(resource))
        acknowledge(scope, f"AwsSolutions-IAM5[Resource::{rendered}]", reason)


def flatten_reference(node: Any) -> str:
    """Render a resolved CloudFormation value as cdk-nag does in its finding ids."""
    if node is None:
        return ""
    if isinstance(node, str):
        return node.replace("${", "<").replace("}", ">")
    if isinstance(node, dict):
        if "Fn::Join" in node:
            delimiter, items = node["Fn::Join"]
            return delimiter.join(flatten_reference(item) for item in items)
        if "Fn::Sub" in node:
            return flatten_reference(node["Fn::Sub"])
        if "Fn::GetAtt" in node:
            resource, attribute = node["Fn::GetAtt"]
            return f"<{flatten_reference(resource)}.{flatten_reference(attribute)}>"
        if "Fn::ImportValue" in node:
            return flatten_reference(node["Fn::ImportValue"])
        if "Ref" in node:
            return f"<{flatten_reference(node['Ref'])}>"
    return json.dumps(node, separators=(",", ":"))


@jsii.implements(IValidation)
class _WhenResolved:
    def __init__(self, action: Callable[[], None]) -> None:
        self._action = action

    def validate(self) -> list[str]:
        self._action()
        return []


def acknowledge_wildcards_when_resolved(
    scope: IConstruct,
    reason: str,
    *,
    actions: Iterable[str] = (),
    resources: Iterable[str] = (),
) -> None:
    """acknowledge_wildcards, once cross-stack references have their final form."""
    actions, resources = tuple(actions), tuple(resources)
    scope.node.add_validation(
        _WhenResolved(
            lambda: acknowledge_wildcards(scope, reason, actions=actions, resources=resources)
        )
    )


def acknowledge_granted_wildcards(role: iam.IRole, reason: str, *, actions: Sequence[str]) -> None:
    """Acknowledge the wildcards of the role's statements that grant any of `actions`.

    For grants CDK writes itself (pipeline actions, artifact bucket, Step Functions): each
    statement granting one of `actions` has its wildcard actions (among `actions`) and its
    wildcard resources acknowledged, on this role only, and nothing else.
    """
    wanted = set(actions)

    def acknowledge_statements() -> None:
        policy = role.node.try_find_child("DefaultPolicy")
        if policy is None:
            return
        document = cdk.Stack.of(role).resolve(policy.node.default_child.policy_document)  # type: ignore[union-attr]
        for statement in document.get("Statement", []):
            granted = _as_list(statement.get("Action"))
            if not wanted.intersection(granted):
                continue
            for action in granted:
                if "*" in action and action in wanted:
                    acknowledge(role, f"AwsSolutions-IAM5[Action::{action}]", reason)
            for resource in _as_list(statement.get("Resource")):
                rendered = flatten_reference(resource)
                if "*" in rendered:
                    acknowledge(role, f"AwsSolutions-IAM5[Resource::{rendered}]", reason)

    role.node.add_validation(_WhenResolved(acknowledge_statements))


def _as_list(value: object) -> list:
    return value if isinstance(value, list) else [value]
