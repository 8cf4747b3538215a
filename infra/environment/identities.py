"""Names and ARNs that cross account boundaries: derived from config, never exported.

A stack cannot import another account's CloudFormation exports, so every policy naming a
principal or resource of another environment derives the name from that environment's config
(its name, account and region), and the resource is created with exactly that name. Tooling
account: the pipeline's role and the package-state function's role (deploy accounts trust them)
and the released artifacts bucket (deploy accounts read it). Each deploy account: the role the
pipeline assumes, its rollout state machine, and the roles that read released models (the model
role and the rollout steps that check them), which the host's bucket, key and registry policies
name. An environment-agnostic environment (no account in config) is in the same account as the
stack that names it (config allows agnostic environments only when all of them are). Changing a
derivation renames, so replaces, the resource.
"""

from __future__ import annotations

from dataclasses import dataclass

import aws_cdk as cdk
from constructs import Construct

from guardrails.config import rollout_state_machine_name
from infra.config import EnvironmentConfig

PREFIX = "guardrails"
MAX_ROLE_NAME_LENGTH = 64

# Role purposes: guardrails-<environment>-<purpose>-<region>.
PIPELINE_ROLE = "pipeline"  # CodePipeline's service role (tooling account)
PACKAGE_STATE_ROLE = "package-state"  # the package-state function's role (tooling account)
RELEASE_ACCESS_ROLE = "release-access"  # what the pipeline assumes in a deploy environment
MODEL_ROLE = "model"  # what the environment's SageMaker models run as
# The rollout steps that read the pipeline's model packages and released models (their
# capabilities verify_release, read_model_packages or create_models; a test keeps them in step).
RELEASE_READING_STEPS = ("Start", "Deploy")


def rollout_role_purpose(step: str) -> str:
    """The role purpose of a rollout step, e.g. rollout-start."""
    return f"rollout-{step.lower()}"


@dataclass(frozen=True)
class Placement:
    """Where an environment is, as seen from a stack: literal values, or that stack's tokens."""

    name: str  # the environment's name
    account: str
    region: str
    partition: str

    @classmethod
    def of(cls, scope: Construct, env: EnvironmentConfig) -> Placement:
        stack = cdk.Stack.of(scope)
        return cls(
            name=env.name,
            account=env.account or stack.account,
            region=env.region or stack.region,
            partition=stack.partition,
        )

    def role_name(self, purpose: str) -> str:
        """guardrails-<environment>-<purpose>-<region>: IAM names are per account, not region."""
        name = f"{PREFIX}-{self.name}-{purpose}-{self.region}"
        if not cdk.Token.is_unresolved(name) and len(name) > MAX_ROLE_NAME_LENGTH:
            raise ValueError(f"role name {name!r} is longer than {MAX_ROLE_NAME_LENGTH}")
        return name

    def role_arn(self, purpose: str) -> str:
        return f"arn:{self.partition}:iam::{self.account}:role/{self.role_name(purpose)}"

    @property
    def account_root(self) -> str:
        return f"arn:{self.partition}:iam::{self.account}:root"

    @property
    def rollout_state_machine_name(self) -> str:
        return rollout_state_machine_name(self.name)

    @property
    def rollout_state_machine_arn(self) -> str:
        return (
            f"arn:{self.partition}:states:{self.region}:{self.account}:stateMachine:"
            f"{self.rollout_state_machine_name}"
        )

    @property
    def rollout_executions_arn(self) -> str:
        """Every execution of the rollout state machine."""
        return (
            f"arn:{self.partition}:states:{self.region}:{self.account}:execution:"
            f"{self.rollout_state_machine_name}:*"
        )

    @property
    def release_readers(self) -> tuple[str, ...]:
        """The environment's roles that load or check released models: model role, rollout steps."""
        purposes = [MODEL_ROLE, *(rollout_role_purpose(step) for step in RELEASE_READING_STEPS)]
        return tuple(self.role_arn(purpose) for purpose in purposes)

    @property
    def package_readers(self) -> tuple[str, ...]:
        """The environment's roles that read the pipeline's model packages: rollout steps."""
        return tuple(self.role_arn(rollout_role_purpose(step)) for step in RELEASE_READING_STEPS)


@dataclass(frozen=True)
class PipelinePrincipals:
    """The tooling account's roles that act in deploy accounts: what their roles trust."""

    account: str
    role_arns: tuple[str, ...]  # CodePipeline's role, the package-state function's role

    @classmethod
    def of(cls, scope: Construct, host: EnvironmentConfig) -> PipelinePrincipals:
        placement = Placement.of(scope, host)
        return cls(
            account=placement.account,
            role_arns=(
                placement.role_arn(PIPELINE_ROLE),
                placement.role_arn(PACKAGE_STATE_ROLE),
            ),
        )


def released_bucket_name(host: Placement) -> str:
    """The released artifacts bucket: one per tooling account and region (names are global)."""
    return f"{PREFIX}-released-{host.account}-{host.region}"


def model_package_group_name(env: EnvironmentConfig) -> str:
    """Each environment's registry group; the pipeline host's is the pipeline's."""
    return f"{PREFIX}-{env.name}"
