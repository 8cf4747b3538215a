"""The CodeCommit repository data scientists push model code to."""

from __future__ import annotations

import aws_cdk as cdk
import aws_cdk.aws_codecommit as codecommit
from constructs import Construct


class SourceRepository(Construct):
    """A CodeCommit repository; CloudFormation requires its name, so it comes from config."""

    def __init__(self, scope: Construct, id_: str, *, repository_name: str, retain: bool) -> None:
        super().__init__(scope, id_)
        self.repository = codecommit.Repository(
            self,
            "Repository",
            repository_name=repository_name,
            description="Guardrails model code: a push to main starts the model pipeline",
        )
        self.repository.apply_removal_policy(
            cdk.RemovalPolicy.RETAIN if retain else cdk.RemovalPolicy.DESTROY
        )
