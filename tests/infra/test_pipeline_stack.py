"""The model pipeline stack: stages in order, builds, approval, deploys, events, gates.

Built through stacks.pipeline_stack.build_pipeline with the real stateful stacks and stand-in
rollout stacks (one Pass state each), so these tests do not depend on the rollout's internals.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import aws_cdk as cdk
import aws_cdk.aws_stepfunctions as sfn
import pytest
from aws_cdk.assertions import Capture, Match, Template
from cdk_nag import AwsSolutionsChecks
from cfnlint.api import lint
from constructs import Construct

from infra.config import AppConfig, ConfigError
from infra.nag import acknowledge
from stacks.guardrails_app import build_pipeline_host, stack_name
from stacks.pipeline_stack import STACK_NAME, PipelineStack, build_pipeline
from stacks.stateful_stack import StatefulStack
from tests.infra.conftest import TEST_ACCOUNT, TEST_REGION, explicit_config, new_app

pytestmark = pytest.mark.xdist_group("pipeline")

CONNECTION = f"arn:aws:codeconnections:{TEST_REGION}:{TEST_ACCOUNT}:connection/0a1b2c3d-4e5f"
APPROVERS = ("lead@example.com", "risk@example.com")


class StandInRollout(cdk.Stack):
    """A rollout stack's public face: a state machine (here a single Pass state)."""

    def __init__(self, scope: Construct, id_: str, **kwargs) -> None:
        super().__init__(scope, id_, **kwargs)
        self.state_machine = sfn.StateMachine(
            self,
            "StateMachine",
            definition_body=sfn.DefinitionBody.from_chainable(sfn.Pass(self, "Rollout")),
        )
        for rule in ("AwsSolutions-SF1", "AwsSolutions-SF2", "AwsSolutions-IAM5"):
            acknowledge(self, rule, "A test stand-in for the rollout stack; never deployed.")


@dataclass(frozen=True)
class StandInStacks:
    stateful: StatefulStack
    rollout: StandInRollout


def pipeline_config(**pipeline: object) -> AppConfig:
    config = explicit_config()
    values = {"approver_emails": APPROVERS, **pipeline}
    return AppConfig(
        environments=config.environments,
        pipeline=type(config.pipeline)(**values),  # type: ignore[arg-type]
    )


def build_app(
    config: AppConfig, app: cdk.App | None = None, connection_arn: str | None = None
) -> tuple[cdk.App, PipelineStack, dict[str, StandInStacks]]:
    """The stacks the pipeline needs, then the pipeline stack, as the app would build them."""
    app = app or new_app()
    host = build_pipeline_host(app, config)
    stacks = {}
    for env in config.environments:
        aws_env = cdk.Environment(account=env.account, region=env.region)
        stateful = host
        if env.name != config.pipeline.host_environment:
            stateful = StatefulStack(
                app,
                stack_name(env, "Stateful"),
                config=env,
                pipeline_host=config.environment(config.pipeline.host_environment),
                env=aws_env,
            )
        stacks[env.name] = StandInStacks(
            stateful=stateful,
            rollout=StandInRollout(app, stack_name(env, "Rollout"), env=aws_env),
        )
    stack = build_pipeline(app, config, stacks, connection_arn)  # type: ignore[arg-type]
    return app, stack, stacks


@cache
def shipped_pipeline() -> tuple[PipelineStack, Template]:
    """The shipped pipeline (CodeCommit source), built once per test process."""
    _, stack, _ = build_app(pipeline_config())
    return stack, Template.from_stack(stack)


@pytest.fixture(scope="module")
def template() -> Template:
    return shipped_pipeline()[1]


@pytest.fixture(scope="module")
def stages(template) -> list[dict]:
    (pipeline,) = template.find_resources("AWS::CodePipeline::Pipeline").values()
    return pipeline["Properties"]["Stages"]


def actions_of(stages: list[dict], stage: str) -> list[dict]:
    return next(s["Actions"] for s in stages if s["Name"] == stage)


def import_of(stack: str, fragment: str) -> dict:
    return {"Fn::ImportValue": Match.string_like_regexp(f"^{stack}:.*{fragment}")}


def test_stages_run_in_order_from_source_to_prod(stages):
    assert [s["Name"] for s in stages] == [
        "Source",
        "Test",
        "Train",
        "Approve",
        "Deploy-staging",
        "Deploy-prod",
    ]
    providers = [[a["ActionTypeId"]["Provider"] for a in s["Actions"]] for s in stages]
    assert providers == [
        ["CodeCommit"],
        ["CodeBuild"],
        ["CodeBuild"],
        ["Manual", "Lambda"],
        ["StepFunctions"],
        ["StepFunctions"],
    ]
    manual, mark_approved = actions_of(stages, "Approve")
    assert (manual["RunOrder"], mark_approved["RunOrder"]) == (1, 2)


def test_pipeline_is_v2_and_keeps_artifacts_in_a_store_of_its_own(template):
    """Not the bucket models are read from: the pipeline's roles write anywhere in their store."""
    template.has_resource_properties(
        "AWS::CodePipeline::Pipeline",
        {
            "PipelineType": "V2",
            "ArtifactStore": {
                "Type": "S3",
                "Location": import_of("Guardrails-dev-Stateful", "PipelineArtifactsBucket"),
                "EncryptionKey": {"Type": "KMS", "Id": import_of("Guardrails-dev-Stateful", "Key")},
            },
        },
    )
    assert "StorageArtifactBucket" not in json.dumps(
        template.find_resources("AWS::CodePipeline::Pipeline")
    )


def test_source_is_the_main_branch_pushed_to_codecommit_without_polling(template, stages):
    (source,) = actions_of(stages, "Source")
    assert source["Configuration"]["BranchName"] == "main"
    assert source["Configuration"]["PollForSourceChanges"] is False
    template.has_resource_properties(
        "AWS::Events::Rule",
        {
            "EventPattern": Match.object_like(
                {
                    "source": ["aws.codecommit"],
                    "detail": Match.object_like({"referenceName": ["main"]}),
                }
            ),
            "Targets": [Match.object_like({"Arn": Match.any_value()})],
        },
    )


def test_codebuild_projects_are_unprivileged_encrypted_and_logged(template):
    projects = template.find_resources("AWS::CodeBuild::Project")
    log_groups = template.find_resources("AWS::Logs::LogGroup")
    for project in projects.values():
        properties = project["Properties"]
        assert properties["Environment"]["PrivilegedMode"] is False
        assert "Guardrails-dev-Stateful:ExportsOutputFnGetAttStorageKey" in json.dumps(
            properties["EncryptionKey"]
        )
        group = properties["LogsConfig"]["CloudWatchLogs"]
        assert group["Status"] == "ENABLED"
        logical_id = group["GroupName"]["Ref"]
        assert log_groups[logical_id]["Properties"]["RetentionInDays"] == 90
        assert "KmsKeyId" in log_groups[logical_id]["Properties"]


def test_each_project_runs_its_buildspec(template):
    buildspecs = {
        p["Properties"]["Source"]["BuildSpec"]
        for p in template.find_resources("AWS::CodeBuild::Project").values()
    }
    assert buildspecs == {"buildspec.yml", "pipelines/buildspec-train.yml"}


def test_train_gets_every_value_from_the_stacks_and_config(template):
    variables = Capture()
    template.has_resource_properties(
        "AWS::CodeBuild::Project",
        {
            "Source": Match.object_like({"BuildSpec": "pipelines/buildspec-train.yml"}),
            "Environment": Match.object_like({"EnvironmentVariables": variables}),
        },
    )
    values = {v["Name"]: v["Value"] for v in variables.as_array()}
    assert values["SAGEMAKER_PIPELINE_NAME"] == "guardrails-dev-model-build"
    assert values["MODEL_PACKAGE_GROUP"] == "guardrails-dev"
    assert (values["MIN_AUC"], values["MIN_ACCURACY"], values["MAX_AUC_DROP"]) == (
        "0.7",
        "0.7",
        "0.01",
    )
    assert "ArtifactBucket" in json.dumps(values["ARTIFACT_BUCKET"])
    assert "Guardrails-dev-Stateful" in json.dumps(values["KMS_KEY_ARN"])
    role_id, attribute = values["SAGEMAKER_ROLE_ARN"]["Fn::GetAtt"]
    assert (role_id.startswith("ModelBuildRole"), attribute) == (True, "Arn")
    assert values["TRAINING_INSTANCE_TYPE"] == "ml.m5.large"


def test_approvers_are_shown_the_package_its_numbers_the_baseline_and_a_link(template, stages):
    manual, _ = actions_of(stages, "Approve")
    configuration = manual["Configuration"]
    for variable in ("MODEL_PACKAGE_ARN", "CANDIDATE_AUC", "CANDIDATE_ACCURACY", "BASELINE_AUC"):
        assert f"#{{Train.{variable}}}" in configuration["CustomData"]
    assert len(configuration["CustomData"]) <= 500  # CodePipeline's limit
    assert configuration["ExternalEntityLink"] == "#{Train.EVALUATION_REPORT_URL}"
    topic_id = configuration["NotificationArn"]["Ref"]
    topic = template.find_resources("AWS::SNS::Topic")[topic_id]
    assert "KmsMasterKeyId" in topic["Properties"]
    subscribed = {
        s["Properties"]["Endpoint"]
        for s in template.find_resources("AWS::SNS::Subscription").values()
        if s["Properties"]["TopicArn"] == {"Ref": topic_id}
    }
    assert subscribed == set(APPROVERS)


def test_mark_approved_gets_the_registered_package(template, stages):
    _, mark_approved = actions_of(stages, "Approve")
    parameters = json.loads(mark_approved["Configuration"]["UserParameters"])
    assert parameters == {"model_package_arn": "#{Train.MODEL_PACKAGE_ARN}"}
    assert mark_approved["Namespace"] == "Approval"
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Handler": "guardrails.release.handlers.approval",
            "Environment": {"Variables": {"MODEL_PACKAGE_GROUP_NAME": "guardrails-dev"}},
            "TracingConfig": {"Mode": "Active"},
        },
    )


def statements(template: Template) -> list[tuple[str, dict]]:
    found = []
    for logical_id, policy in template.find_resources("AWS::IAM::Policy").items():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            found.append((logical_id, statement))
    return found


def test_the_approval_function_runs_as_the_released_artifacts_writer(template):
    """The role the released bucket's policy names; its grants live in this stack."""
    writer = import_of("Guardrails-dev-Stateful", "ReleasedArtifactsApprovalRole")
    function = Capture()
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Handler": "guardrails.release.handlers.approval",
            "Role": writer,
            "Timeout": 600,
            "Environment": {
                "Variables": {
                    "MODEL_PACKAGE_GROUP_NAME": "guardrails-dev",
                    "RELEASED_BUCKET": import_of(
                        "Guardrails-dev-Stateful", "ReleasedArtifactsBucket"
                    ),
                    "TRAINED_ARTIFACTS_URI": {
                        "Fn::Join": ["", ["s3://", function, "/model-pipeline/runs/"]]
                    },
                }
            },
        },
    )
    assert "StorageArtifactBucket" in json.dumps(function.as_object())
    updating = [
        (logical_id, statement)
        for logical_id, statement in statements(template)
        if "sagemaker:UpdateModelPackage" in json.dumps(statement["Action"])
    ]
    assert [logical_id for logical_id, _ in updating] == [
        next(
            i
            for i in template.find_resources("AWS::IAM::Policy")
            if i.startswith("ApprovalWriterRolePolicy")
        )
    ]
    assert ":model-package/guardrails-dev/*" in json.dumps(updating[0][1]["Resource"])


def test_the_approval_function_reads_runs_and_writes_only_released_folders(template):
    (policy,) = [
        p
        for i, p in template.find_resources("AWS::IAM::Policy").items()
        if i.startswith("ApprovalWriterRolePolicy")
    ]
    granted = {
        action: json.dumps(statement["Resource"])
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        for action in (
            [statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"]
        )
        if action.startswith("s3:")
    }
    assert set(granted) == {"s3:GetObject", "s3:GetObjectVersion", "s3:PutObject"}
    assert (
        "StorageArtifactBucket" in granted["s3:GetObject"]
        and "/model-pipeline/runs/*" in granted["s3:GetObject"]
    )
    assert "ReleasedArtifactsBucket" in granted["s3:PutObject"]
    assert "/models/*" in granted["s3:PutObject"] and "/test-data/*" in granted["s3:PutObject"]


def test_the_sagemaker_jobs_may_register_packages_only_pending_approval(template):
    creating = [
        s
        for _, s in statements(template)
        if "sagemaker:CreateModelPackage" in json.dumps(s["Action"])
    ]
    assert len(creating) == 1
    (statement,) = creating
    assert statement["Action"] == "sagemaker:CreateModelPackage"
    assert statement["Condition"] == {
        "StringEquals": {"sagemaker:ModelApprovalStatus": "PendingManualApproval"}
    }


def test_the_sagemaker_jobs_pull_only_the_built_in_algorithm_images(template):
    """The AWS account that publishes XGBoost and scikit-learn in us-east-1, nothing else."""
    (pulls,) = [
        s for _, s in statements(template) if "ecr:BatchGetImage" in json.dumps(s["Action"])
    ]

    def repository(name: str) -> str:
        return f"arn:aws:ecr:us-east-1:683313688378:repository/{name}"

    assert pulls["Resource"] == [
        repository("sagemaker-scikit-learn"),
        repository("sagemaker-xgboost"),
    ]


def test_deploy_stages_start_each_rollout_with_the_package_and_approver(stages):
    for env in ("staging", "prod"):
        (action,) = actions_of(stages, f"Deploy-{env}")
        configuration = action["Configuration"]
        assert f":stateMachine:guardrails-{env}-rollout" in json.dumps(
            configuration["StateMachineArn"]
        )
        # As the environment's release access role, which trusts the pipeline's role by name.
        assert f":role/guardrails-{env}-release-access-us-east-1" in json.dumps(action["RoleArn"])
        assert configuration["InputType"] == "Literal"
        assert json.loads(configuration["Input"]) == {
            "model_package_arn": "#{Train.MODEL_PACKAGE_ARN}",
            "started_by": "pipeline:#{Approval.APPROVED_BY}",
            "reason": "approved in model pipeline execution #{codepipeline.PipelineExecutionId}",
        }


def test_pipeline_failures_reach_on_call(template):
    template.has_resource_properties(
        "AWS::Events::Rule",
        {
            "EventPattern": {
                "source": ["aws.codepipeline"],
                "resources": [Match.any_value()],
                "detail-type": ["CodePipeline Pipeline Execution State Change"],
                "detail": {"state": ["FAILED"]},
            },
            "Targets": [
                Match.object_like(
                    {
                        "Arn": import_of("Guardrails-dev-Stateful", "OnCallTopic"),
                        # Published with a role's grant, no topic policy statement for EventBridge.
                        "RoleArn": {"Fn::GetAtt": [Match.string_like_regexp("EventsRole"), "Arn"]},
                        "InputTransformer": Match.object_like(
                            {"InputTemplate": Match.string_like_regexp("FAILED")}
                        ),
                    }
                )
            ],
        },
    )


def test_package_state_changes_of_the_group_reach_the_handler(template):
    target = Capture()
    template.has_resource_properties(
        "AWS::Events::Rule",
        {
            "EventPattern": {
                "source": ["aws.sagemaker"],
                "detail-type": ["SageMaker Model Package State Change"],
                "detail": {
                    "ModelPackageGroupName": ["guardrails-dev"],
                    "ModelApprovalStatus": ["Approved", "Rejected"],
                },
            },
            "Targets": [Match.object_like({"Arn": target})],
        },
    )
    function_id = target.as_object()["Fn::GetAtt"][0]
    function = template.find_resources("AWS::Lambda::Function")[function_id]["Properties"]
    assert function["Handler"] == "guardrails.release.handlers.package_state"
    targets_json = json.dumps(function["Environment"]["Variables"]["DEPLOY_TARGETS"])
    assert targets_json.index("staging") < targets_json.index("prod")
    assert "guardrails-prod" in targets_json
    assert f"role/guardrails-prod-release-access-{TEST_REGION}" in targets_json  # reached as it


def test_approvals_outside_the_pipeline_start_nothing(template):
    """No release state machine: the package-state handler refuses them and tells on-call."""
    machines = template.find_resources("AWS::StepFunctions::StateMachine")
    assert machines == {}
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Handler": "guardrails.release.handlers.package_state",
            "Environment": {
                "Variables": Match.object_like(
                    {
                        "RELEASED_BUCKET": import_of(
                            "Guardrails-dev-Stateful", "ReleasedArtifactsBucket"
                        )
                    }
                )
            },
        },
    )


def test_sagemaker_jobs_role_passes_only_itself_to_sagemaker(template):
    passing = [s for _, s in statements(template) if s["Action"] == "iam:PassRole"]
    assert passing
    for statement in passing:
        assert statement["Condition"] == {
            "StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}
        }


def test_stack_lives_in_the_host_account_and_region():
    stack, _ = shipped_pipeline()
    assert stack.stack_name == STACK_NAME
    assert (stack.account, stack.region) == (TEST_ACCOUNT, TEST_REGION)


def test_a_codeconnections_source_uses_the_connection_from_context():
    config = pipeline_config(source="codeconnections", repository_owner_and_name="acme/models")
    _, stack, stacks = build_app(config, connection_arn=CONNECTION)
    template = Template.from_stack(stack)
    (pipeline,) = template.find_resources("AWS::CodePipeline::Pipeline").values()
    (source,) = pipeline["Properties"]["Stages"][0]["Actions"]
    assert source["ActionTypeId"]["Provider"] == "CodeStarSourceConnection"
    assert source["Configuration"]["ConnectionArn"] == CONNECTION
    assert source["Configuration"]["FullRepositoryId"] == "acme/models"
    assert source["Configuration"]["BranchName"] == "main"
    assert stacks["dev"].stateful.repository is None


# Checked before any construct is made: the stacks map only needs the selected names.
ALL_SELECTED = {"dev": None, "staging": None, "prod": None}


@pytest.mark.parametrize("arn", [None, "", "arn:aws:s3:::not-a-connection"])
def test_a_codeconnections_source_without_a_connection_arn_is_refused(arn):
    config = pipeline_config(source="codeconnections", repository_owner_and_name="acme/models")
    with pytest.raises(ConfigError, match="^connection_arn: the codeconnections source needs"):
        build_pipeline(new_app(), config, ALL_SELECTED, arn)  # type: ignore[arg-type]


def test_deploying_to_another_region_is_refused():
    """SageMaker loads models only from its own region; the released artifacts are the host's."""
    config = explicit_config(prod={"region": "eu-west-1"})
    with pytest.raises(
        ConfigError, match="^environments.prod.region: must be the pipeline host dev's region"
    ):
        build_pipeline(new_app(), config, ALL_SELECTED)  # type: ignore[arg-type]


def policy_of_role(template: Template, role_name: str) -> list[dict]:
    """The statements of the default policy of the role named `role_name`."""
    roles = template.find_resources("AWS::IAM::Role", {"Properties": {"RoleName": role_name}})
    (role_id,) = roles
    (policy,) = [
        p
        for p in template.find_resources("AWS::IAM::Policy").values()
        if p["Properties"]["Roles"] == [{"Ref": role_id}]
    ]
    return policy["Properties"]["PolicyDocument"]["Statement"]


def test_the_package_state_function_reaches_deploy_environments_only_as_their_access_roles(
    template,
):
    statements = policy_of_role(template, "guardrails-dev-package-state-us-east-1")
    (assume,) = [s for s in statements if s["Action"] == "sts:AssumeRole"]
    assert sorted(json.dumps(arn) for arn in assume["Resource"]) == [
        f'"arn:aws:iam::{TEST_ACCOUNT}:role/guardrails-{env}-release-access-us-east-1"'
        for env in ("prod", "staging")
    ]
    actions = json.dumps([s["Action"] for s in statements])
    for action in ("states:", "sagemaker:DescribeEndpoint", 'sagemaker:DescribeModel"'):
        assert action not in actions  # every call in a deploy environment is the access role's


def test_the_pipeline_assumes_each_deploy_environments_access_role(template):
    statements = policy_of_role(template, "guardrails-dev-pipeline-us-east-1")
    assumed = [json.dumps(s["Resource"]) for s in statements if s["Action"] == "sts:AssumeRole"]
    for env in ("staging", "prod"):
        assert sum(f":role/guardrails-{env}-release-access-us-east-1" in a for a in assumed) == 1
    assert not any("states:" in json.dumps(s["Action"]) for s in statements)


def test_every_environment_the_pipeline_touches_must_be_selected():
    with pytest.raises(ConfigError, match="environments staging, prod are not selected"):
        build_pipeline(new_app(), pipeline_config(), {"dev": None})  # type: ignore[arg-type]


def test_cdk_nag_and_cfn_lint_pass(tmp_path):
    app = new_app(outdir=str(tmp_path))
    build_app(pipeline_config(), app=app)
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks())
    assembly = app.synth()  # raises on any unacknowledged cdk-nag finding
    template = json.dumps(assembly.get_stack_by_name(STACK_NAME).template)
    findings = [str(m) for m in lint(template, regions=[TEST_REGION]) if m.rule.id[0] in "EW"]
    assert findings == []
    assert Path(tmp_path, f"{STACK_NAME}.template.json").exists()
