"""The quality gates over every synthesized template: cdk-nag and cfn-lint."""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import aws_cdk as cdk
import aws_cdk.aws_s3 as s3
import pytest
from cdk_nag import AwsSolutionsChecks
from cfnlint.api import lint

from stacks.guardrails_app import build_app
from stacks.pipeline_stack import STACK_NAME as PIPELINE_STACK_NAME
from stacks.pipeline_stack import build_pipeline
from tests.infra.conftest import TEST_REGION, explicit_config, new_app

pytestmark = pytest.mark.xdist_group("gates")


def nag_checked_app(outdir: Path) -> tuple[cdk.App, dict]:
    app = new_app(outdir=str(outdir))
    config = explicit_config()
    stacks = build_app(app, config, config.environments)
    build_pipeline(app, config, stacks)
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks())
    return app, stacks


@pytest.fixture(scope="module")
def assembly(tmp_path_factory) -> cdk.cx_api.CloudAssembly:
    app, _ = nag_checked_app(tmp_path_factory.mktemp("cdk.out"))
    return app.synth()  # raises on any unacknowledged cdk-nag finding


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
