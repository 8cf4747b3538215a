"""Acknowledging cdk-nag findings on the one construct they concern, each with its reason."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import aws_cdk as cdk
from constructs import IConstruct

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
