"""Stateful stack: encryption, retention, the registry, topic, table and repository."""

from __future__ import annotations

import json

import pytest
from aws_cdk.assertions import Match, Template

from tests.infra.conftest import build, explicit_config

# Renaming a construct id replaces the resource and loses its data: these ids are locked.
STATEFUL_LOGICAL_IDS = {
    "StorageKeyBAA9457B": "AWS::KMS::Key",
    "StorageArtifactBucket48D12CDB": "AWS::S3::Bucket",
    "StorageAccessLogBucket76E80A12": "AWS::S3::Bucket",
    "RegistryModelPackageGroup27C6820F": "AWS::SageMaker::ModelPackageGroup",
    "OnCallTopic2FB15ED5": "AWS::SNS::Topic",
    "DeploymentsTableDD4203FA": "AWS::DynamoDB::GlobalTable",
    # Replacing it would write "no model yet" over what serves (tests/infra/test_serving_model).
    "ServingModelParameter56D6A844": "AWS::SSM::Parameter",
}


@pytest.fixture(scope="module")
def prod(template_of) -> Template:
    return template_of("prod", "stateful")


@pytest.fixture(scope="module")
def dev(template_of) -> Template:
    return template_of("dev", "stateful")


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_stateful_logical_ids_are_stable(template_of, env):
    resources = template_of(env, "stateful").to_json()["Resources"]
    for logical_id, resource_type in STATEFUL_LOGICAL_IDS.items():
        assert resources.get(logical_id, {}).get("Type") == resource_type, logical_id


def test_key_rotates(prod):
    prod.has_resource_properties("AWS::KMS::Key", {"EnableKeyRotation": True})


def test_artifact_bucket_is_versioned_kms_encrypted_private_and_logged(prod):
    prod.has_resource_properties(
        "AWS::S3::Bucket",
        {
            "VersioningConfiguration": {"Status": "Enabled"},
            "BucketEncryption": {
                "ServerSideEncryptionConfiguration": [
                    {
                        "ServerSideEncryptionByDefault": {
                            "SSEAlgorithm": "aws:kms",
                            "KMSMasterKeyID": {"Fn::GetAtt": ["StorageKeyBAA9457B", "Arn"]},
                        },
                        "BucketKeyEnabled": True,
                    }
                ]
            },
            "PublicAccessBlockConfiguration": {
                "BlockPublicAcls": True,
                "BlockPublicPolicy": True,
                "IgnorePublicAcls": True,
                "RestrictPublicBuckets": True,
            },
            "LoggingConfiguration": {
                "DestinationBucketName": {"Ref": "StorageAccessLogBucket76E80A12"},
                "LogFilePrefix": "artifact-bucket/",
            },
        },
    )


def test_artifact_bucket_refuses_plain_http(prod):
    prod.has_resource_properties(
        "AWS::S3::BucketPolicy",
        {
            "Bucket": {"Ref": "StorageArtifactBucket48D12CDB"},
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Effect": "Deny",
                                "Action": "s3:*",
                                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                            }
                        )
                    ]
                )
            },
        },
    )


@pytest.mark.parametrize("logical_id", sorted(STATEFUL_LOGICAL_IDS))
def test_prod_retains_stateful_resources(prod, logical_id):
    resource = prod.to_json()["Resources"][logical_id]
    assert resource["DeletionPolicy"] == "Retain"
    assert resource["UpdateReplacePolicy"] == "Retain"


def test_dev_cleans_up_after_itself(dev):
    resources = dev.to_json()["Resources"]
    assert resources["StorageArtifactBucket48D12CDB"]["DeletionPolicy"] == "Delete"
    assert resources["DeploymentsTableDD4203FA"]["DeletionPolicy"] == "Delete"


def test_prod_stack_is_termination_protected(shipped_stacks):
    assert shipped_stacks["prod"].stateful.termination_protection is True
    assert shipped_stacks["dev"].stateful.termination_protection is False


def test_topic_is_kms_encrypted_and_tls_only(prod):
    prod.has_resource_properties(
        "AWS::SNS::Topic",
        {"KmsMasterKeyId": {"Fn::GetAtt": ["StorageKeyBAA9457B", "Arn"]}},
    )
    prod.has_resource_properties(
        "AWS::SNS::TopicPolicy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Effect": "Deny",
                                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                            }
                        )
                    ]
                )
            }
        },
    )


def test_email_subscriptions_come_from_config():
    config = explicit_config(prod={"notification_emails": ["oncall@example.com"]})
    template = Template.from_stack(build(config)["prod"].stateful)
    template.has_resource_properties(
        "AWS::SNS::Subscription", {"Protocol": "email", "Endpoint": "oncall@example.com"}
    )
    Template.from_stack(build(explicit_config())["prod"].stateful).resource_count_is(
        "AWS::SNS::Subscription", 0
    )


def test_deployment_table_has_pitr_kms_and_the_record_keys(prod):
    prod.has_resource_properties(
        "AWS::DynamoDB::GlobalTable",
        {
            "KeySchema": [
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
            "SSESpecification": {"SSEEnabled": True, "SSEType": "KMS"},
            "Replicas": [
                Match.object_like(
                    {
                        "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
                        "DeletionProtectionEnabled": True,
                    }
                )
            ],
        },
    )


def test_model_package_group_is_named_per_environment(prod):
    prod.has_resource_properties(
        "AWS::SageMaker::ModelPackageGroup", {"ModelPackageGroupName": "guardrails-prod"}
    )


def test_only_the_pipeline_host_holds_the_codecommit_repository(template_of):
    template_of("dev", "stateful").has_resource_properties(
        "AWS::CodeCommit::Repository", {"RepositoryName": "guardrails-models"}
    )
    template_of("prod", "stateful").resource_count_is("AWS::CodeCommit::Repository", 0)


def test_model_role_reads_artifacts_and_writes_only_its_capture_prefix(prod):
    prod.has_resource_properties(
        "AWS::IAM::Policy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        {
                            "Action": "s3:PutObject",
                            "Effect": "Allow",
                            "Resource": {
                                "Fn::Join": [
                                    "",
                                    [
                                        {"Fn::GetAtt": ["StorageArtifactBucket48D12CDB", "Arn"]},
                                        "/data-capture/guardrails-prod/*",
                                    ],
                                ]
                            },
                        }
                    ]
                )
            }
        },
    )


def test_only_this_accounts_alarms_may_use_the_topic_and_its_key(prod):
    """CloudWatch acts for this account's alarms only; EventBridge publishes with roles.

    No other statement admits a service: a second, unconditioned one would void the conditions.
    """
    alarms_of_the_account = {
        "StringEquals": {"aws:SourceAccount": "111111111111"},
        "ArnLike": {"aws:SourceArn": "arn:aws:cloudwatch:us-east-1:111111111111:alarm:*"},
    }
    topic_policies = prod.find_resources("AWS::SNS::TopicPolicy").values()
    keys = prod.find_resources("AWS::KMS::Key").values()
    documents = [p["Properties"]["PolicyDocument"] for p in topic_policies]
    documents += [k["Properties"]["KeyPolicy"] for k in keys]
    admitted = []
    for document in documents:
        for statement in document["Statement"]:
            principal = statement.get("Principal")
            if statement["Effect"] == "Allow" and "Service" in principal:
                admitted.append(principal["Service"])
                assert statement["Condition"] == alarms_of_the_account, statement
    assert admitted == ["cloudwatch.amazonaws.com", "cloudwatch.amazonaws.com"]


# The pipeline host's stateful stack also keeps what every environment's endpoints load.
HOST_LOGICAL_IDS = {
    "ReleasedArtifactsKey0F6D979D": "AWS::KMS::Key",
    "ReleasedArtifactsBucketFC96B0CB": "AWS::S3::Bucket",
    "ReleasedArtifactsApprovalRoleC93F7DE1": "AWS::IAM::Role",
    "PipelineArtifactsBucket831483E9": "AWS::S3::Bucket",
}


def test_only_the_pipeline_host_keeps_released_artifacts_and_the_pipelines_store(template_of):
    host = template_of("dev", "stateful").to_json()["Resources"]
    for logical_id, resource_type in HOST_LOGICAL_IDS.items():
        assert host.get(logical_id, {}).get("Type") == resource_type, logical_id
    for env in ("staging", "prod"):
        resources = template_of(env, "stateful").to_json()["Resources"]
        assert not set(HOST_LOGICAL_IDS) & set(resources), env


def test_every_environments_models_read_the_hosts_released_models(template_of):
    """By the released bucket's derived name (the host may be another account), not by export."""
    for env in ("dev", "prod"):
        template = template_of(env, "stateful")
        (role_id,) = template.find_resources(
            "AWS::IAM::Role", {"Properties": {"RoleName": f"guardrails-{env}-model-us-east-1"}}
        )
        reads = [
            json.dumps(statement["Resource"])
            for policy in template.find_resources("AWS::IAM::Policy").values()
            if policy["Properties"]["Roles"] == [{"Ref": role_id}]
            for statement in policy["Properties"]["PolicyDocument"]["Statement"]
            if statement["Action"] == "s3:GetObject"
        ]
        assert reads and all(
            ":s3:::guardrails-released-111111111111-us-east-1/models/*" in read for read in reads
        ), env
    template_of("dev", "stateful").has_resource_properties(
        "AWS::S3::Bucket", {"BucketName": "guardrails-released-111111111111-us-east-1"}
    )


def test_in_one_account_no_resource_policy_grants_the_released_artifacts_to_anyone(dev):
    """IAM alone decides within the host's account: no statement names another principal."""
    statements = [
        statement
        for resource in dev.to_json()["Resources"].values()
        if resource["Type"] in ("AWS::S3::BucketPolicy", "AWS::KMS::Key")
        for statement in (
            resource["Properties"].get("PolicyDocument") or resource["Properties"]["KeyPolicy"]
        )["Statement"]
        if statement["Effect"] == "Allow"
    ]
    accounts = {json.dumps(s["Principal"]) for s in statements if "AWS" in s["Principal"]}
    assert accounts == {json.dumps({"AWS": "arn:aws:iam::111111111111:root"})}
    (group,) = dev.find_resources("AWS::SageMaker::ModelPackageGroup").values()
    assert "ModelPackageGroupPolicy" not in group["Properties"]


def test_the_model_role_has_its_derived_name(prod):
    """The pipeline host's policies name it when the host is in another account."""
    prod.has_resource_properties("AWS::IAM::Role", {"RoleName": "guardrails-prod-model-us-east-1"})


def test_the_pipelines_store_is_encrypted_private_logged_and_expires(dev):
    dev.has_resource_properties(
        "AWS::S3::Bucket",
        {
            "BucketEncryption": Match.object_like(
                {
                    "ServerSideEncryptionConfiguration": [
                        Match.object_like(
                            {
                                "ServerSideEncryptionByDefault": {
                                    "SSEAlgorithm": "aws:kms",
                                    "KMSMasterKeyID": {"Fn::GetAtt": ["StorageKeyBAA9457B", "Arn"]},
                                }
                            }
                        )
                    ]
                }
            ),
            "LoggingConfiguration": Match.object_like({"LogFilePrefix": "pipeline-artifacts/"}),
            "LifecycleConfiguration": {
                "Rules": [Match.object_like({"ExpirationInDays": 90, "Status": "Enabled"})]
            },
        },
    )
