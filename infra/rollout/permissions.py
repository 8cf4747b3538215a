"""What each rollout step may do, by capability, scoped to this endpoint and its resources."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import aws_cdk as cdk
import aws_cdk.aws_cloudwatch as cloudwatch
import aws_cdk.aws_dynamodb as dynamodb
import aws_cdk.aws_iam as iam
import aws_cdk.aws_kms as kms
import aws_cdk.aws_sns as sns
from constructs import Construct

from guardrails.rollout.endpoint_configs import name_prefix
from guardrails.rollout.metrics import QUALITY_NAMESPACE, VERDICT_NAMESPACE
from guardrails.services.autoscaling import DIMENSION, NAMESPACE
from infra.environment.released_artifacts import ReleasedModels
from infra.environment.serving_model import ServingModelParameter
from infra.nag import acknowledge_wildcards, acknowledge_wildcards_when_resolved


class RolloutPermissions:
    """Policy statements per capability; `grant` adds them to a role, `acknowledge` says why."""

    def __init__(
        self,
        scope: Construct,
        *,
        endpoint_name: str,
        table: dynamodb.ITableV2,
        topic: sns.ITopic,
        key: kms.IKey,
        model_role: iam.IRole,
        rollback_alarms: Sequence[cloudwatch.IAlarm],
        released: ReleasedModels,
        serving_model: ServingModelParameter,
    ) -> None:
        stack = cdk.Stack.of(scope)

        def sagemaker(resource: str, name: str) -> str:
            return stack.format_arn(service="sagemaker", resource=resource, resource_name=name)

        # SageMaker lower-cases names in ARNs.
        prefix = name_prefix(endpoint_name).lower()
        endpoint = sagemaker("endpoint", endpoint_name.lower())
        self.any_config = sagemaker("endpoint-config", "*")
        self.any_model = sagemaker("model", "*")
        self.own_configs = sagemaker("endpoint-config", f"{prefix}-*")
        self.own_models = sagemaker("model", f"{prefix}-*")
        self.packages = released.model_packages()  # the pipeline's group, maybe another account
        self._table = table
        self._topic = topic
        self._released = released
        self._serving_model = serving_model
        # Application Auto Scaling names scalable targets by a random id, not the endpoint: its
        # calls are held to SageMaker variants by conditions; target tracking's alarms are named
        # after the variant's resource id, so CloudWatch is scoped to this endpoint's.
        scaling = {
            "StringEquals": {
                "application-autoscaling:service-namespace": NAMESPACE,
                "application-autoscaling:scalable-dimension": DIMENSION,
            }
        }
        self.scaling_alarms = stack.format_arn(
            service="cloudwatch",
            resource="alarm",
            resource_name=f"TargetTracking-endpoint/{endpoint_name}/variant/*",
            arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
        )
        scaling_role = stack.format_arn(
            service="iam",
            region="",
            resource="role",
            resource_name="aws-service-role/sagemaker.application-autoscaling.amazonaws.com/"
            "AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint",
        )
        # Endpoint configs name the environment's key: SageMaker takes a grant on it for the
        # role that creates the config or moves the endpoint onto it (botocore's KmsKeyId).
        encrypted_configs = [
            _allow(["kms:DescribeKey"], [key.key_arn]),
            iam.PolicyStatement(
                actions=["kms:CreateGrant"],
                resources=[key.key_arn],
                conditions={"Bool": {"kms:GrantIsForAWSResource": "true"}},
            ),
        ]
        self._statements: dict[str, list[iam.PolicyStatement]] = {
            "read_endpoint": [
                _allow(["sagemaker:DescribeEndpoint"], [endpoint]),
                _allow(["sagemaker:DescribeEndpointConfig"], [self.any_config]),
            ],
            "update_endpoint": [
                _allow(
                    ["sagemaker:UpdateEndpoint", "sagemaker:UpdateEndpointWeightsAndCapacities"],
                    [endpoint, self.any_config],
                ),
                *encrypted_configs,
            ],
            "create_models": [
                _allow(["sagemaker:DescribeModel"], [self.any_model]),
                _allow(["sagemaker:DescribeModelPackage"], [self.packages]),
                _allow(
                    [
                        "sagemaker:CreateModel",
                        "sagemaker:CreateEndpointConfig",
                        "sagemaker:AddTags",
                    ],
                    [self.own_models, self.own_configs],
                ),
                iam.PolicyStatement(
                    actions=["iam:PassRole"],
                    resources=[model_role.role_arn],
                    conditions={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
                ),
                *encrypted_configs,
            ],
            "read_model_packages": [_allow(["sagemaker:DescribeModelPackage"], [self.packages])],
            "invoke": [_allow(["sagemaker:InvokeEndpoint"], [endpoint])],
            "read_metrics": [_allow(["cloudwatch:GetMetricData"], ["*"])],
            "verdict": [_put_metrics_into(VERDICT_NAMESPACE)],
            "read_alarms": [
                _allow(["cloudwatch:DescribeAlarms"], [a.alarm_arn for a in rollback_alarms])
            ],
            # A first deploy creates the endpoint; its rollback deletes it.
            "create_endpoint": [
                _allow(["sagemaker:CreateEndpoint"], [endpoint, self.own_configs]),
                *encrypted_configs,
            ],
            "delete_endpoint": [_allow(["sagemaker:DeleteEndpoint"], [endpoint])],
            # What serves: the parameter (granted below) and the package of a config's model.
            "serving_model": [
                _allow(["sagemaker:DescribeModel", "sagemaker:ListTags"], [self.any_model])
            ],
            # Application Auto Scaling checks that its caller may act on the variant and on
            # target tracking's alarms itself (the service-linked role does the scaling).
            "register_scaling": [
                iam.PolicyStatement(
                    actions=[
                        "application-autoscaling:RegisterScalableTarget",
                        "application-autoscaling:PutScalingPolicy",
                    ],
                    resources=["*"],
                    conditions=scaling,
                ),
                _allow(["sagemaker:UpdateEndpointWeightsAndCapacities"], [endpoint]),
                _allow(
                    ["cloudwatch:PutMetricAlarm", "cloudwatch:DescribeAlarms"],
                    [self.scaling_alarms],
                ),
                *encrypted_configs,  # the validation of UpdateEndpointWeightsAndCapacities
                iam.PolicyStatement(
                    actions=["iam:CreateServiceLinkedRole"],
                    resources=[scaling_role],
                    conditions={
                        "StringLike": {
                            "iam:AWSServiceName": "sagemaker.application-autoscaling.amazonaws.com"
                        }
                    },
                ),
            ],
            "deregister_scaling": [
                iam.PolicyStatement(
                    actions=["application-autoscaling:DeregisterScalableTarget"],
                    resources=["*"],
                    conditions=scaling,
                ),
                _allow(["cloudwatch:DeleteAlarms"], [self.scaling_alarms]),
            ],
            # The replay's labelled counts, only into the namespace the judge reads them from.
            "quality": [_put_metrics_into(QUALITY_NAMESPACE)],
        }

    def grant(self, role: iam.IRole, capabilities: Iterable[str]) -> None:
        granted: list[iam.PolicyStatement] = []
        for capability in capabilities:
            if capability == "records":
                self._table.grant_read_write_data(role)
            elif capability == "notify":
                self._topic.grant_publish(role)
            elif capability == "verify_release":  # the released model's checksum, before use
                self._released.grant_read_models(role)
            elif capability == "read_test_data":  # the replay's rows, checked before use
                self._released.grant_read_test_data(role)
            else:
                if capability == "serving_model":
                    self._serving_model.grant_write(role)
                for statement in self._statements[capability]:
                    if statement not in granted:  # the key's grant comes with two capabilities
                        granted.append(statement)
                        role.add_to_principal_policy(statement)

    def acknowledge(self, role: iam.IRole, capabilities: Sequence[str]) -> None:
        """The reasons for each wildcard the capabilities need, on this role only."""
        unscoped = "X-Ray's PutTraceSegments and PutTelemetryRecords have no resource scope"
        if "read_metrics" in capabilities:
            unscoped += "; neither has cloudwatch:GetMetricData"
        if "verdict" in capabilities:
            unscoped += "; PutMetricData is held to the verdict's namespace by a condition"
        if "register_scaling" in capabilities or "deregister_scaling" in capabilities:
            unscoped += (
                "; Application Auto Scaling cannot scope scalable targets by endpoint, so "
                "conditions hold its calls to SageMaker variants"
            )
        if "quality" in capabilities:
            unscoped += "; PutMetricData is held to the labelled counts' namespace by a condition"
        acknowledge_wildcards(role, unscoped + ".", resources=["*"])

        def has(capability: str) -> bool:
            return capability in capabilities

        # (whether the role needs it, why, the wildcard resources it covers)
        scoped_reasons = [
            (
                has("read_endpoint") or has("update_endpoint"),
                "The live endpoint config may be the endpoint stack's, whose name CloudFormation "
                "generates; rollbacks return to it. Only this endpoint can be updated.",
                [self.any_config],
            ),
            (
                has("create_models"),
                "The live model and model package have generated names; they are only read. "
                "Models and configs are created under this endpoint's name prefix only.",
                [self.any_model, self.packages, self.own_models, self.own_configs],
            ),
            (
                has("read_model_packages") and not has("create_models"),
                "Model packages are only read, any version of the pipeline's group.",
                [self.packages],
            ),
            (
                has("create_endpoint"),
                "A first deploy creates this endpoint on a config under its name prefix only.",
                [self.own_configs],
            ),
            (
                has("serving_model"),
                "The serving config's model may have any generated name: it is only described, "
                "and its tags read, to tell which model package serves.",
                [self.any_model],
            ),
            (
                has("register_scaling") or has("deregister_scaling"),
                "Application Auto Scaling has no resource scope by endpoint (a condition holds "
                "it to SageMaker variants); target tracking names its alarms after this "
                "endpoint's variant, with a generated suffix.",
                [self.scaling_alarms],
            ),
            (
                has("verify_release"),
                "The step reads the SHA-256 of released models (one folder per approved package "
                "version) to check them before a model is made from them.",
                [self._released.models()],
            ),
            (
                has("read_test_data"),
                "The replay reads the test data released with each approved package version "
                "(one folder per version) and checks its SHA-256 before it sends a row.",
                [self._released.test_data()],
            ),
        ]
        for needed, reason, resources in scoped_reasons:
            if needed:
                acknowledge_wildcards_when_resolved(role, reason, resources=resources)
        if has("records") or has("notify"):
            acknowledge_wildcards(
                role,
                "DynamoDB and SNS encrypt with the environment's KMS key: CDK's grants name "
                "its data key actions with a wildcard, on that one key.",
                actions=["kms:GenerateDataKey*", "kms:ReEncrypt*"],
            )

def _allow(actions: list[str], resources: list[str]) -> iam.PolicyStatement:
    return iam.PolicyStatement(actions=actions, resources=resources)


def _put_metrics_into(namespace: str) -> iam.PolicyStatement:
    """PutMetricData has no resource scope: a condition holds it to one namespace."""
    return iam.PolicyStatement(
        actions=["cloudwatch:PutMetricData"],
        resources=["*"],
        conditions={"StringEquals": {"cloudwatch:namespace": namespace}},
    )
