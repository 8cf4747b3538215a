"""Acknowledging wildcards whose resources are only known once cross-stack references resolve.

The pipeline stack grants on the stateful stacks' bucket, key and state machines, and CDK
renders those references (Fn::ImportValue) only when the app is prepared. infra/nag.py names
findings from resolved values, so these acknowledgments are made then: in a construct
validation, which CDK runs after references are resolved and before cdk-nag reads them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

import aws_cdk as cdk
import aws_cdk.aws_iam as iam
import jsii
from constructs import IConstruct, IValidation

from infra.nag import acknowledge, acknowledge_wildcards, flatten_reference


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
    """infra.nag.acknowledge_wildcards, once cross-stack references have their final form."""
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
