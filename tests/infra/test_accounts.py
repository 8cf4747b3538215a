"""dev (the tooling account, the pipeline's host), staging and prod in three accounts.

`cdk synth` (app.py with cdk-nag) of the three-account config, then every trust policy and
every resource policy of every template: staging's and prod's roles trust only the tooling
account's pipeline roles; the registry, the released models and their key are readable by the
deploy accounts' named readers and by no one else; nothing crosses an account by export.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cfnlint.api import lint

from tests.infra.conftest import TEST_REGION, THREE_ACCOUNTS, read_templates

pytestmark = pytest.mark.xdist_group("accounts")  # one synth, shared with test_policies

TOOLING = THREE_ACCOUNTS["dev"]
DEPLOY = {env: THREE_ACCOUNTS[env] for env in ("staging", "prod")}
HOST_STATEFUL = "Guardrails-dev-Stateful"
RELEASED = f"arn:aws:s3:::guardrails-released-{TOOLING}-{TEST_REGION}"
PIPELINE_ROLES = [
    f"arn:aws:iam::{TOOLING}:role/guardrails-dev-pipeline-{TEST_REGION}",
    f"arn:aws:iam::{TOOLING}:role/guardrails-dev-package-state-{TEST_REGION}",
]
RESOURCE_POLICIES = {
    "AWS::S3::BucketPolicy": "PolicyDocument",
    "AWS::SNS::TopicPolicy": "PolicyDocument",
    "AWS::Logs::ResourcePolicy": "PolicyDocument",
    "AWS::KMS::Key": "KeyPolicy",
    "AWS::SageMaker::ModelPackageGroup": "ModelPackageGroupPolicy",
}


def text(value: Any) -> Any:
    """A template value with partitions rendered (`aws`) and other references as <LogicalId>."""
    if isinstance(value, list):
        return [text(item) for item in value]
    if not isinstance(value, dict):
        return value
    if "Fn::Join" in value:
        delimiter, parts = value["Fn::Join"]
        return delimiter.join(str(text(part)) for part in parts)
    if value.get("Ref") == "AWS::Partition":
        return "aws"
    if "Ref" in value:
        return f"<{value['Ref']}>"
    if "Fn::GetAtt" in value:
        return f"<{value['Fn::GetAtt'][0]}.{value['Fn::GetAtt'][1]}>"
    return {key: text(item) for key, item in value.items()}


def as_list(value: Any) -> list:
    return value if isinstance(value, list) else [value]


def readers(env: str, *purposes: str) -> list[str]:
    return [
        f"arn:aws:iam::{DEPLOY[env]}:role/guardrails-{env}-{purpose}-{TEST_REGION}"
        for purpose in purposes
    ]


def model_readers(env: str) -> list[str]:
    """The roles of `env` that load or check released models."""
    return readers(env, "model", "rollout-start", "rollout-deploy")


@pytest.fixture(scope="module")
def templates(three_account_assembly: Path) -> dict[str, dict]:
    return read_templates(three_account_assembly)


def account_of(stack: str) -> str:
    return THREE_ACCOUNTS[stack.split("-")[1]] if stack != "Guardrails-Pipeline" else TOOLING


def resources(templates: dict[str, dict], kind: str) -> Iterator[tuple[str, str, dict]]:
    for stack, template in templates.items():
        for logical_id, resource in template["Resources"].items():
            if resource["Type"] == kind:
                yield stack, logical_id, resource.get("Properties", {})


def role_named(templates: dict[str, dict], arn: str) -> tuple[str, dict]:
    """The stack and properties of the role `arn` names: it must exist, in that account."""
    account, name = arn.split(":")[4], arn.rsplit("/", 1)[1]
    found = [
        (stack, properties)
        for stack, _, properties in resources(templates, "AWS::IAM::Role")
        if properties.get("RoleName") == name and account_of(stack) == account
    ]
    assert len(found) == 1, arn
    return found[0]


def policy_of(templates: dict[str, dict], stack: str, role_name: str) -> list[dict]:
    """Every statement of every identity policy attached to the role `role_name` in `stack`."""
    (role_id,) = [
        logical_id
        for s, logical_id, properties in resources(templates, "AWS::IAM::Role")
        if s == stack and properties.get("RoleName") == role_name
    ]
    return [
        statement
        for s, _, properties in resources(templates, "AWS::IAM::Policy")
        if s == stack and {"Ref": role_id} in properties["Roles"]
        for statement in properties["PolicyDocument"]["Statement"]
    ]


def test_cdk_synth_places_every_stack_in_its_environments_account(three_account_assembly):
    manifest = json.loads((three_account_assembly / "manifest.json").read_text())
    placed = {
        name: artifact["environment"]
        for name, artifact in manifest["artifacts"].items()
        if artifact["type"] == "aws:cloudformation:stack"
    }
    expected = {"Guardrails-Pipeline": f"aws://{TOOLING}/{TEST_REGION}"}
    for env, account in THREE_ACCOUNTS.items():
        for part in ("Stateful", "Endpoint", "Monitoring", "Rollout"):
            expected[f"Guardrails-{env}-{part}"] = f"aws://{account}/{TEST_REGION}"
    assert placed == expected  # no support stack: the pipeline's cross-account roles are ours


def test_no_stack_imports_from_another_account(templates):
    for stack, template in templates.items():
        imports = {
            part.split(":", 1)[0] for part in json.dumps(template).split('"Fn::ImportValue": "')[1:]
        }
        assert {account_of(source) for source in imports} <= {account_of(stack)}, stack


def test_cfn_lint_finds_no_errors_or_warnings_in_any_account(templates):
    findings = [
        f"{stack}: {match}"
        for stack, template in templates.items()
        for match in lint(json.dumps(template), regions=[TEST_REGION])
        if match.rule.id[0] in "EW"
    ]
    assert findings == []


def test_every_role_that_trusts_an_account_trusts_only_the_tooling_pipeline_roles(templates):
    """Service roles trust their service; within the pipeline stack, action roles trust the
    pipeline's role; the only account principal anywhere is the tooling account, held to the
    pipeline's two roles, on the deploy environments' release access roles."""
    trusting_accounts = []
    for stack, _, properties in resources(templates, "AWS::IAM::Role"):
        for statement in properties["AssumeRolePolicyDocument"]["Statement"]:
            principal = statement["Principal"]
            assert statement["Effect"] == "Allow" and statement["Action"] == "sts:AssumeRole"
            if "Service" in principal:
                continue
            (aws,) = principal.values()
            if stack == "Guardrails-Pipeline":
                assert aws == {"Fn::GetAtt": ["ModelPipelinePipelineRole67A7E6FE", "Arn"]}
                continue
            trusting_accounts.append((stack, properties["RoleName"]))
            assert text(aws) == f"arn:aws:iam::{TOOLING}:root"
            assert text(statement["Condition"]) == {
                "ArnEquals": {"aws:PrincipalArn": PIPELINE_ROLES}
            }
    assert sorted(trusting_accounts) == sorted(
        (f"Guardrails-{env}-Rollout", f"guardrails-{env}-release-access-{TEST_REGION}")
        for env in ("staging", "prod")
    )
    for arn in PIPELINE_ROLES:  # the trusted names are the tooling account's roles' names
        assert role_named(templates, arn)[0] == "Guardrails-Pipeline"


@pytest.mark.parametrize("env", DEPLOY)
def test_the_access_role_only_runs_its_rollout_and_reads_what_its_endpoint_serves(templates, env):
    stack = f"Guardrails-{env}-Rollout"
    account = DEPLOY[env]
    statements = policy_of(templates, stack, f"guardrails-{env}-release-access-{TEST_REGION}")
    (machine,) = [
        (logical_id, properties)
        for s, logical_id, properties in resources(templates, "AWS::StepFunctions::StateMachine")
        if s == stack
    ]
    assert machine[1]["StateMachineName"] == f"guardrails-{env}-rollout"
    sagemaker = f"arn:aws:sagemaker:{TEST_REGION}:{account}"
    granted = sorted((tuple(sorted(as_list(s["Action"]))), text(s["Resource"])) for s in statements)
    assert granted == sorted(
        [
            (("states:DescribeStateMachine", "states:StartExecution"), f"<{machine[0]}>"),
            (
                ("states:DescribeExecution", "states:StopExecution"),
                f"arn:aws:states:{TEST_REGION}:{account}:execution:guardrails-{env}-rollout:*",
            ),
            (("sagemaker:DescribeEndpoint",), f"{sagemaker}:endpoint/guardrails-{env}"),
            (("sagemaker:DescribeEndpointConfig",), f"{sagemaker}:endpoint-config/*"),
            (("sagemaker:DescribeModel", "sagemaker:ListTags"), f"{sagemaker}:model/*"),
        ]
    )
    assert all(s["Effect"] == "Allow" and "Condition" not in s for s in statements)


def test_the_pipeline_deploys_as_each_environments_access_role(templates):
    (pipeline,) = [p for _, _, p in resources(templates, "AWS::CodePipeline::Pipeline")]
    for env, account in DEPLOY.items():
        (stage,) = [s for s in pipeline["Stages"] if s["Name"] == f"Deploy-{env}"]
        (action,) = stage["Actions"]
        role = text(action["RoleArn"])
        assert role == f"arn:aws:iam::{account}:role/guardrails-{env}-release-access-{TEST_REGION}"
        assert role_named(templates, role)[0] == f"Guardrails-{env}-Rollout"
        assert text(action["Configuration"]["StateMachineArn"]) == (
            f"arn:aws:states:{TEST_REGION}:{account}:stateMachine:guardrails-{env}-rollout"
        )


def foreign_grants(templates: dict[str, dict]) -> list[tuple[str, str, dict]]:
    """Every Allow of every resource policy whose principal is not its own account or a service."""
    found = []
    for kind, key in RESOURCE_POLICIES.items():
        for stack, logical_id, properties in resources(templates, kind):
            document = properties.get(key)
            for statement in (document or {}).get("Statement", []):
                principal = statement.get("Principal", {})
                if statement["Effect"] != "Allow" or "AWS" not in principal:
                    continue
                if text(principal["AWS"]) != f"arn:aws:iam::{account_of(stack)}:root":
                    found.append((stack, logical_id, statement))
    return found


def test_only_the_registry_released_models_and_their_key_are_shared_with_other_accounts(
    templates,
):
    shared = {
        (stack, logical_id.rstrip("0123456789ABCDEF"))
        for stack, logical_id, _ in foreign_grants(templates)
    }
    assert shared == {
        (HOST_STATEFUL, "RegistryModelPackageGroup"),
        (HOST_STATEFUL, "ReleasedArtifactsBucketPolicy"),
        (HOST_STATEFUL, "ReleasedArtifactsKey"),
    }


def grants_to(templates: dict[str, dict], logical_prefix: str) -> dict[str, dict]:
    """The foreign grants of one resource, by the account they are for."""
    return {
        text(statement["Principal"]["AWS"]).split(":")[4]: statement
        for stack, logical_id, statement in foreign_grants(templates)
        if logical_id.startswith(logical_prefix)
    }


def test_the_registry_lets_only_the_deploy_accounts_rollout_steps_describe_packages(templates):
    grants = grants_to(templates, "RegistryModelPackageGroup")
    assert set(grants) == set(DEPLOY.values())
    for env, account in DEPLOY.items():
        statement = grants[account]
        assert statement["Action"] == "sagemaker:DescribeModelPackage"
        assert text(statement["Resource"]) == (
            f"arn:aws:sagemaker:{TEST_REGION}:{TOOLING}:model-package/guardrails-dev/*"
        )
        steps = readers(env, "rollout-start", "rollout-deploy")
        assert text(statement["Condition"]) == {"ArnEquals": {"aws:PrincipalArn": steps}}
        for arn in steps:  # the named roles exist in that account and look for the host's group
            stack, _ = role_named(templates, arn)
            described = [
                text(s["Resource"])
                for s in policy_of(templates, stack, arn.rsplit("/", 1)[1])
                if "sagemaker:DescribeModelPackage" in as_list(s["Action"])
            ]
            assert set(described) == {text(statement["Resource"])}


def test_released_models_are_readable_by_the_deploy_accounts_readers_only(templates):
    grants = grants_to(templates, "ReleasedArtifactsBucketPolicy")
    assert set(grants) == set(DEPLOY.values())
    for env, account in DEPLOY.items():
        statement = grants[account]
        assert statement["Action"] == "s3:GetObject"
        assert text(statement["Resource"]) == "<ReleasedArtifactsBucketFC96B0CB.Arn>/models/*"
        names = model_readers(env)
        assert text(statement["Condition"]) == {"ArnEquals": {"aws:PrincipalArn": names}}
        for arn in names:
            role_named(templates, arn)


def test_the_released_key_decrypts_for_the_deploy_accounts_readers_only_through_s3(templates):
    grants = grants_to(templates, "ReleasedArtifactsKey")
    assert set(grants) == set(DEPLOY.values())
    for env, account in DEPLOY.items():
        statement = grants[account]
        assert statement["Action"] == "kms:Decrypt"
        assert text(statement["Condition"]) == {
            "ArnEquals": {"aws:PrincipalArn": model_readers(env)},
            "StringEquals": {"kms:ViaService": f"s3.{TEST_REGION}.amazonaws.com"},
        }


@pytest.mark.parametrize("env", DEPLOY)
def test_deploy_readers_decrypt_only_released_objects_through_s3(templates, env):
    """Their side of the grant: the host's keys, held to the released bucket's objects."""
    for arn in model_readers(env):
        stack, _ = role_named(templates, arn)
        statements = policy_of(templates, stack, arn.rsplit("/", 1)[1])
        host_keys = [
            s for s in statements if f":kms:{TEST_REGION}:{TOOLING}:" in json.dumps(text(s))
        ]
        assert [(s["Action"], text(s["Resource"]), text(s["Condition"])) for s in host_keys] == [
            (
                "kms:Decrypt",
                f"arn:aws:kms:{TEST_REGION}:{TOOLING}:key/*",
                {
                    "StringEquals": {"kms:ViaService": f"s3.{TEST_REGION}.amazonaws.com"},
                    "StringLike": {"kms:EncryptionContext:aws:s3:arn": [RELEASED, f"{RELEASED}/*"]},
                },
            )
        ]
        reads = [
            resource
            for s in statements
            if s["Action"] == "s3:GetObject"
            for resource in as_list(text(s["Resource"]))
        ]
        assert f"{RELEASED}/models/*" in reads


def test_the_released_bucket_is_named_after_the_tooling_account_and_region(templates):
    buckets = [p.get("BucketName") for _, _, p in resources(templates, "AWS::S3::Bucket")]
    assert buckets.count(RELEASED.removeprefix("arn:aws:s3:::")) == 1
