"""LoggedStateMachine: every event logged with data to encrypted logs, traced, nag-clean."""

from __future__ import annotations

import aws_cdk as cdk
import aws_cdk.aws_lambda as lambda_
import aws_cdk.aws_stepfunctions_tasks as tasks
import pytest
from aws_cdk.assertions import Template
from cdk_nag import AwsSolutionsChecks

from infra.encrypted_logs import EncryptedLogs
from infra.lambda_function import GuardrailsFunction
from infra.nag import acknowledge_wildcards
from infra.state_machine import LoggedStateMachine
from tests.infra.conftest import logged_and_traced_log_group


def build(app: cdk.App, *, declare_invoked: bool = True) -> cdk.Stack:
    """A state machine invoking one function, in the scope of the stack itself."""
    stack = cdk.Stack(app, "Test")
    logs = EncryptedLogs(stack, "Logs", description="Test logs", retain=False)
    step = GuardrailsFunction(
        stack,
        id_prefix="Step",
        handler="guardrails.rollout.handlers.judge",
        description="A test step",
        environment={},
        code=lambda_.Code.from_inline("def handler(event, context):\n    return event\n"),
        logs=logs,
    )
    acknowledge_wildcards(
        step.role, "X-Ray has no resource scope; a test stand-in.", resources=["*"]
    )
    LoggedStateMachine(
        stack,
        "StateMachine",
        log_group_id="StateMachineLogs",
        logs=logs,
        comment="A test state machine",
        definition=tasks.LambdaInvoke(stack, "Invoke", lambda_function=step.function),
        timeout=cdk.Duration.hours(1),
        invoked_functions=[step.function] if declare_invoked else (),
    )
    return stack


@pytest.fixture(scope="module")
def template() -> Template:
    return Template.from_stack(build(cdk.App()))


def test_every_event_is_logged_with_its_data_to_its_own_encrypted_group_and_traced(template):
    assert logged_and_traced_log_group(template).startswith("StateMachineLogs")


def test_it_starts_only_after_its_role_policy_exists(template):
    (machine,) = template.find_resources("AWS::StepFunctions::StateMachine").values()
    (policy,) = machine["DependsOn"]
    assert template.to_json()["Resources"][policy]["Type"] == "AWS::IAM::Policy"


def test_its_wildcards_are_acknowledged_so_cdk_nag_passes(tmp_path):
    app = cdk.App(outdir=str(tmp_path))
    build(app)
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks())
    app.synth()  # raises on any unacknowledged cdk-nag finding


def test_only_the_functions_it_is_told_of_are_acknowledged(tmp_path):
    app = cdk.App(outdir=str(tmp_path))
    build(app, declare_invoked=False)
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks())
    with pytest.raises(Exception, match=r"AwsSolutions-IAM5\[Resource::<StepFunction"):
        app.synth()
