"""Finds a deployed environment: credentials for its account, its region, its stack outputs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from guardrails.cli.errors import InputError, OperationalError
from guardrails.config import EnvironmentConfig
from guardrails.services.errors import is_not_found

_RETRIES = Config(retries={"mode": "standard", "max_attempts": 5})


def stack_name(env: EnvironmentConfig, part: str) -> str:
    """Same names as stacks.guardrails_app.stack_name (importing it would start jsii)."""
    return f"Guardrails-{env.name}-{part}"


@dataclass(frozen=True)
class Deployed:
    """One deployed environment, reached with the operator's credentials."""

    env: EnvironmentConfig
    session: boto3.Session
    region: str
    account: str
    caller_arn: str
    endpoint_name: str
    table_name: str
    topic_arn: str

    def client(self, service: str) -> Any:
        return self.session.client(service, region_name=self.region, config=_RETRIES)

    def table(self) -> Any:
        dynamodb = self.session.resource("dynamodb", region_name=self.region, config=_RETRIES)
        return dynamodb.Table(self.table_name)

    def state_machine_arn(self) -> str:
        """The rollout state machine, the one the pipeline starts, from the rollout stack."""
        name = stack_name(self.env, "Rollout")
        outputs = stack_outputs(self.client("cloudformation"), name, self.region, required=True)
        if "StateMachineArn" not in outputs:
            raise OperationalError(f"stack {name}: has no output StateMachineArn (redeploy it)")
        return outputs["StateMachineArn"]


def connect(env: EnvironmentConfig, profile: str | None) -> Deployed:
    """The environment's stacks in its account and region, or an error saying what is off."""
    session = boto3.Session(profile_name=profile, region_name=env.region)
    region = session.region_name
    if not region:
        raise InputError(
            f"environments.{env.name}.region: not in a cdk.json, and the AWS profile has no "
            "region (set AWS_DEFAULT_REGION or pick another --profile)"
        )
    identity = session.client("sts", region_name=region, config=_RETRIES).get_caller_identity()
    account = identity["Account"]
    if env.account and account != env.account:
        raise OperationalError(
            f"environments.{env.name}.account: is {env.account}, but the credentials are for "
            f"account {account} (pick another --profile)"
        )
    cloudformation = session.client("cloudformation", region_name=region, config=_RETRIES)
    stateful = stack_outputs(cloudformation, stack_name(env, "Stateful"), region, required=True)
    endpoint = stack_outputs(cloudformation, stack_name(env, "Endpoint"), region, required=False)
    for key in ("DeploymentTableName", "OnCallTopicArn"):
        if key not in stateful:
            raise OperationalError(
                f"stack {stack_name(env, 'Stateful')}: has no output {key} (redeploy it)"
            )
    return Deployed(
        env=env,
        session=session,
        region=region,
        account=account,
        caller_arn=identity["Arn"],
        endpoint_name=endpoint.get("EndpointName", env.endpoint_name),
        table_name=stateful["DeploymentTableName"],
        topic_arn=stateful["OnCallTopicArn"],
    )


def stack_outputs(cloudformation: Any, name: str, region: str, *, required: bool) -> dict[str, str]:
    """A stack's outputs by key; {} for a missing stack unless it is required."""
    try:
        stacks = cloudformation.describe_stacks(StackName=name)["Stacks"]
    except ClientError as error:
        if not is_not_found(error):
            raise
        if required:
            raise OperationalError(
                f"stack {name}: not deployed in {region} (run cdk deploy)"
            ) from None
        return {}
    outputs = stacks[0].get("Outputs", []) if stacks else []
    return {o["OutputKey"]: o["OutputValue"] for o in outputs}
