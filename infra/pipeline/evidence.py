"""The evidence before production: a function that reads the previous environment's rollout.

The Evidence action of the stage that approves the first production environment runs it: it
reads what the previous (non-production) environment's rollout execution returned, through
that environment's release access role (its account may be another one), and sends the judge's
numbers and the replay's counts to the approvers' topic (guardrails.release.handlers.evidence).
"""

from __future__ import annotations

import aws_cdk as cdk
import aws_cdk.aws_iam as iam
import aws_cdk.aws_sns as sns
from constructs import Construct

from guardrails.release import settings
from infra.lambda_function import GuardrailsFunction
from infra.nag import acknowledge_wildcards
from infra.pipeline.host import PipelineHost
from infra.pipeline.model_pipeline import DeployEnvironment


class EvidenceStep(Construct):
    """Reads `source`'s rollout evidence as its access role and sends it to the approvers.

    Its role is named: the deploy environments' release access roles trust it by that name,
    and its own policy lets it assume only `source`'s access role.
    """

    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        source: DeployEnvironment,
        approves: DeployEnvironment,
        role_name: str,
        topic: sns.ITopic,
        host: PipelineHost,
    ) -> None:
        super().__init__(scope, id_)
        self.source, self.approves = source, approves
        role = iam.Role(
            self,
            "Role",
            role_name=role_name,
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"Guardrails approval evidence: reads the {source.config.name} rollout "
            f"before {approves.config.name}",
        )
        evidence_source = {
            "environment": source.config.name,
            "approves": approves.config.name,
            "state_machine_arn": source.state_machine_arn,
            "access_role_arn": source.access_role_arn,
        }
        self.function = GuardrailsFunction(
            self,
            handler="guardrails.release.handlers.evidence",
            description=f"Guardrails pipeline: send the {source.config.name} rollout's evidence "
            f"to the approvers of {approves.config.name}",
            environment={
                # In one account the ARNs hold the stack's account and region tokens.
                settings.EVIDENCE_SOURCE: cdk.Stack.of(self).to_json_string(evidence_source),
                settings.APPROVERS_TOPIC_ARN: topic.topic_arn,
            },
            code=host.code,
            logs=host.logs,
            role=role,
        ).function
        statements = [
            iam.PolicyStatement(actions=["sts:AssumeRole"], resources=[source.access_role_arn]),
            # Job APIs take no resource scope; the job id comes from CodePipeline's invocation.
            iam.PolicyStatement(
                actions=["codepipeline:GetJobDetails", "codepipeline:PutJobSuccessResult",
                         "codepipeline:PutJobFailureResult"],
                resources=["*"],
            ),
        ]  # fmt: skip
        for statement in statements:
            role.add_to_policy(statement)
        topic.grant_publish(role)
        host.key.grant(role, "kms:Decrypt", "kms:GenerateDataKey*")
        acknowledge_wildcards(
            role,
            "CodePipeline's job APIs (GetJobDetails, PutJob*Result) and X-Ray have no resource "
            "scope.",
            resources=["*"],
        )
        acknowledge_wildcards(
            role,
            "Publishing to the KMS-encrypted approvers' topic needs data keys of its key.",
            actions=["kms:GenerateDataKey*"],
        )
