"""Deployment ordering between a resource and its role's permissions."""

from __future__ import annotations

import aws_cdk as cdk
import aws_cdk.aws_iam as iam
from constructs import Construct


def depend_only_on_policy(resource: Construct, role: iam.IRole) -> None:
    """DependsOn the role's default policy only.

    CDK also lists the role, which the resource's reference to its ARN already orders; cfn-lint
    flags that duplicate (W3005). The policy dependency is the one that matters: nothing runs
    before its permissions exist.
    """
    policy = role.node.try_find_child("DefaultPolicy")
    cfn_resource = resource.node.default_child
    if policy is None or not isinstance(cfn_resource, cdk.CfnResource):
        return
    cfn_policy = policy.node.default_child
    assert isinstance(cfn_policy, cdk.CfnResource)
    cfn_resource.add_override("DependsOn", [cfn_policy.logical_id])
