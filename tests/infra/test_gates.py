"""The quality gates over every synthesized template: cdk-nag and cfn-lint."""

from __future__ import annotations

import importlib
import json

import aws_cdk.aws_s3 as s3
import pytest
from cfnlint.api import lint

from stacks.pipeline_stack import STACK_NAME as PIPELINE_STACK_NAME
from tests.infra.conftest import TEST_REGION, nag_checked_app

pytestmark = pytest.mark.xdist_group("gates")


def test_every_stack_of_every_environment_is_synthesized(assembly):
    names = {stack.stack_name for stack in assembly.stacks}
    for env in ("dev", "staging", "prod"):
        for part in ("Stateful", "Endpoint", "Monitoring", "Rollout"):
            assert f"Guardrails-{env}-{part}" in names
    assert PIPELINE_STACK_NAME in names


def test_every_function_handler_is_an_importable_function(assembly):
    handlers = {
        resource["Properties"]["Handler"]
        for stack in assembly.stacks
        for resource in stack.template["Resources"].values()
        if resource["Type"] == "AWS::Lambda::Function"
        # CDK's custom resource framework runs on Node.js; every Python handler is ours.
        and resource["Properties"]["Runtime"].startswith("python")
    }
    assert handlers, "no Lambda function found"
    for handler in sorted(handlers):
        module, _, function = handler.rpartition(".")
        assert callable(getattr(importlib.import_module(module), function, None)), handler


def test_cfn_lint_finds_no_errors_or_warnings(assembly):
    findings = []
    for stack in assembly.stacks:
        template = json.dumps(stack.template)
        for match in lint(template, regions=[TEST_REGION]):
            if match.rule.id[0] in "EW":
                findings.append(f"{stack.stack_name}: {match}")
    assert findings == []


def test_an_unacknowledged_finding_fails_the_gate(tmp_path):
    app, stacks = nag_checked_app(tmp_path)
    # A bucket without access logs: AwsSolutions-S1, with no acknowledgment.
    s3.Bucket(
        stacks["dev"].stateful,
        "UnloggedBucket",
        enforce_ssl=True,
        encryption=s3.BucketEncryption.S3_MANAGED,
    )
    with pytest.raises(Exception, match="AwsSolutions-S1"):
        app.synth()
