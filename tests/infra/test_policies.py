"""Issue 13's guarantees, over every statement of every policy of every synthesized stack.

Checked with every environment in one account and with dev (the pipeline host), staging and
prod in three accounts.

- Every permission to create a model package holds it to PendingManualApproval;
- only the approval step's role may update a model package (and so set it Approved);
- no role may bypass Object Lock's governance retention;
- no role but the approval step's may write where any endpoint's models are read from, and the
  model roles read only released models;
- the released bucket's policy denies object writes to everyone else, and only object writes.
"""

from __future__ import annotations

import fnmatch
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest

from infra.environment.released_artifacts import OBJECT_WRITE_ACTIONS
from tests.infra.conftest import read_templates

APPROVAL_ROLE = "ReleasedArtifactsApprovalRole"  # construct path of the approval step's role
RELEASED_BUCKET = "ReleasedArtifactsBucket"
# Named after the pipeline host's account and region: how every environment reaches it.
RELEASED_ARN = "arn:aws:s3:::guardrails-released-111111111111-us-east-1"
_EXPORT = re.compile(r"^(?P<stack>[^:]+):ExportsOutputFnGetAtt(?P<id>.+?)Arn[0-9A-F]{8}$")


@dataclass(frozen=True)
class Grant:
    """One Allow statement of an identity policy, with where it lives and whom it is for."""

    stack: str
    policy: str
    principals: str  # the rendered Roles/Users of the policy, or the role it is inline in
    statement: dict[str, Any]
    named: Mapping[str, str] = field(default_factory=dict)  # see named_buckets

    def allows(self, action: str) -> bool:
        """True when the statement allows `action` (wildcards and NotAction included)."""
        if "NotAction" in self.statement:
            return not _matches(action, self.statement["NotAction"])
        return _matches(action, self.statement.get("Action", []))

    @property
    def resources(self) -> list[str]:
        return [
            render(self.stack, r, self.named) for r in _as_list(self.statement.get("Resource", "*"))
        ]

    @property
    def is_approval_role(self) -> bool:
        return APPROVAL_ROLE in self.principals


def _as_list(value: Any) -> list:
    return value if isinstance(value, list) else [value]


def _matches(action: str, patterns: Any) -> bool:
    return any(fnmatch.fnmatchcase(action.lower(), p.lower()) for p in _as_list(patterns))


def render(stack: str, value: Any, named: Mapping[str, str] | None = None) -> str:
    """A resource as text; a bucket or role named by its stack and logical ID wherever it is.

    A bucket with a name of its own is rendered as its ARN (`named`), which is how stacks in
    other accounts name it; the partition is `aws`.
    """
    named = named or {}
    if isinstance(value, str):
        return value
    if "Fn::Join" in value:
        delimiter, parts = value["Fn::Join"]
        return delimiter.join(render(stack, part, named) for part in parts)
    if "Fn::GetAtt" in value:
        key = f"{stack}:{value['Fn::GetAtt'][0]}"
        return named.get(key, key)
    if "Fn::ImportValue" in value:
        match = _EXPORT.match(value["Fn::ImportValue"])
        key = f"{match['stack']}:{match['id']}" if match else value["Fn::ImportValue"]
        return named.get(key, key)
    if value.get("Ref") == "AWS::Partition":
        return "aws"
    if "Ref" in value:
        return f"{stack}:{value['Ref']}"
    return json.dumps(value, sort_keys=True)


def named_buckets(templates: Mapping[str, dict]) -> dict[str, str]:
    """`stack:logicalId` of every bucket with a name of its own -> its ARN."""
    return {
        f"{stack}:{logical_id}": f"arn:aws:s3:::{resource['Properties']['BucketName']}"
        for stack, template in templates.items()
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] == "AWS::S3::Bucket"
        and isinstance(resource["Properties"].get("BucketName"), str)
    }


@pytest.fixture(
    scope="module",
    # Each beside the tests that share its synthesized app: test_gates, test_accounts.
    params=[
        pytest.param("one account", marks=pytest.mark.xdist_group("gates")),
        pytest.param("three accounts", marks=pytest.mark.xdist_group("accounts")),
    ],
)
def templates(request) -> dict[str, dict]:
    """The whole app with every environment in one account, and with three accounts."""
    if request.param == "one account":
        assembly = request.getfixturevalue("assembly")
        return {stack.stack_name: stack.template for stack in assembly.stacks}
    return read_templates(request.getfixturevalue("three_account_assembly"))


@pytest.fixture(scope="module")
def grants(templates) -> list[Grant]:
    return list(_grants(templates))


def _grants(templates: dict[str, dict]) -> Iterator[Grant]:
    named = named_buckets(templates)
    for stack, template in templates.items():
        for logical_id, resource in template["Resources"].items():
            properties = resource.get("Properties", {})
            documents: list[tuple[str, dict]] = []
            if resource["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
                attached = properties.get("Roles", []) + properties.get("Users", [])
                principals = json.dumps([render(stack, r) for r in attached])
                documents.append((principals, properties["PolicyDocument"]))
            elif resource["Type"] == "AWS::IAM::Role":
                for inline in properties.get("Policies", []):
                    documents.append((f"{stack}:{logical_id}", inline["PolicyDocument"]))
            for principals, document in documents:
                for statement in document["Statement"]:
                    if statement.get("Effect") == "Allow":
                        yield Grant(stack, logical_id, principals, statement, named)


def test_the_whole_app_is_inspected(templates, grants):
    assert len(templates) == 13
    assert {g.stack for g in grants} == set(templates)  # every stack grants something


def test_every_permission_to_create_a_model_package_is_pending_approval_only(grants):
    creating = [g for g in grants if g.allows("sagemaker:CreateModelPackage")]
    assert creating, "the SageMaker Pipeline's role must be able to register packages"
    for grant in creating:
        assert grant.statement.get("Condition") == {
            "StringEquals": {"sagemaker:ModelApprovalStatus": "PendingManualApproval"}
        }, grant


def test_only_the_approval_steps_role_may_update_a_model_package(grants):
    updating = [g for g in grants if g.allows("sagemaker:UpdateModelPackage")]
    assert [g.is_approval_role for g in updating] == [True]
    assert updating[0].stack == "Guardrails-Pipeline"


def test_no_role_may_bypass_object_locks_governance_retention(grants):
    assert [g for g in grants if g.allows("s3:BypassGovernanceRetention")] == []


def writes_objects(grant: Grant) -> bool:
    return any(grant.allows(action) for action in OBJECT_WRITE_ACTIONS)


def overlap(first: str, second: str) -> bool:
    """True when two object ARN patterns can name the same object (`*` matches anything).

    A bucket's own ARN (no key part) names no object.
    """
    if "*" in (first, second):
        return True
    if "/" not in first or "/" not in second:
        return False
    a, b = first.split("*", 1)[0], second.split("*", 1)[0]
    return a.startswith(b) or b.startswith(a)


@pytest.fixture(scope="module")
def model_reads(grants) -> dict[str, list[str]]:
    """What each environment's model execution role may read from S3, by stack."""
    reads: dict[str, list[str]] = {}
    for grant in grants:
        if "ModelExecutionRole" in grant.principals and grant.allows("s3:GetObject"):
            reads.setdefault(grant.stack, []).extend(grant.resources)
    return reads


def test_model_roles_read_only_released_models(model_reads):
    assert set(model_reads) == {f"Guardrails-{env}-Stateful" for env in ("dev", "staging", "prod")}
    for stack, resources in model_reads.items():
        assert resources == [f"{RELEASED_ARN}/models/*"], stack


def test_no_role_but_the_approval_steps_may_write_where_models_are_read_from(grants, model_reads):
    read_from = [resource for resources in model_reads.values() for resource in resources]
    writers = [g for g in grants if writes_objects(g) and not g.is_approval_role]
    assert any("ModelBuildRole" in g.policy for g in writers)  # jobs do write, elsewhere
    assert any("TrainProject" in g.policy for g in writers)
    for grant in writers:
        for written in grant.resources:
            clashes = [read for read in read_from if overlap(written, read)]
            assert clashes == [], (grant.stack, grant.policy, written)


def test_the_approval_step_writes_only_new_released_versions(grants):
    (grant,) = [g for g in grants if g.is_approval_role and writes_objects(g)]
    assert grant.statement["Action"] == "s3:PutObject"
    assert [r.split("/", 1)[1] for r in grant.resources] == ["models/*", "test-data/*"]
    assert all(r.startswith(f"{RELEASED_ARN}/") for r in grant.resources)


def test_the_released_buckets_policy_denies_object_writes_to_all_but_the_approval_step(templates):
    template = templates["Guardrails-dev-Stateful"]
    (policy,) = [
        r["Properties"]["PolicyDocument"]
        for r in template["Resources"].values()
        if r["Type"] == "AWS::S3::BucketPolicy"
        and RELEASED_BUCKET in json.dumps(r["Properties"]["Bucket"])
    ]
    (deny,) = [s for s in policy["Statement"] if s.get("Sid") == "OnlyTheApprovalStepWritesObjects"]
    assert deny["Effect"] == "Deny" and deny["Principal"] == {"AWS": "*"}
    assert sorted(deny["Action"]) == sorted(OBJECT_WRITE_ACTIONS)
    (approval_role,) = deny["Condition"]["ArnNotEquals"]["aws:PrincipalArn"]["Fn::GetAtt"][:1]
    assert approval_role.startswith(APPROVAL_ROLE)
    # Object ARNs only: CloudFormation keeps managing the bucket (policy, lock, encryption).
    assert render("s", deny["Resource"]).endswith("/*")
    assert not any(_matches(a, deny["Action"]) for a in ("s3:PutBucketPolicy", "s3:DeleteBucket"))


def test_the_released_bucket_locks_every_version_and_outlives_its_stack(templates):
    buckets = [
        r
        for logical_id, r in templates["Guardrails-dev-Stateful"]["Resources"].items()
        if logical_id.startswith(RELEASED_BUCKET)
    ]
    (bucket,) = [b for b in buckets if b["Type"] == "AWS::S3::Bucket"]
    properties = bucket["Properties"]
    assert properties["ObjectLockEnabled"] is True
    assert properties["ObjectLockConfiguration"] == {
        "ObjectLockEnabled": "Enabled",
        "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 365}},
    }
    assert properties["VersioningConfiguration"] == {"Status": "Enabled"}
    encryption = properties["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
    assert encryption["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    assert "ReleasedArtifactsKey" in json.dumps(encryption)
    assert properties["LoggingConfiguration"]["LogFilePrefix"] == "released-artifacts/"
    assert (bucket["DeletionPolicy"], bucket["UpdateReplacePolicy"]) == ("Retain", "Retain")


def test_the_model_roles_pull_only_sagemakers_xgboost_image(grants):
    pulls = [
        g for g in grants if "ModelExecutionRole" in g.principals and g.allows("ecr:BatchGetImage")
    ]
    assert len(pulls) == 3
    for grant in pulls:
        (repository,) = grant.resources
        assert repository.endswith(":ecr:us-east-1:683313688378:repository/sagemaker-xgboost")
