"""The STS seam: clients that act as another role, in this account or another one."""

from __future__ import annotations

from typing import Any

import boto3

from guardrails.services.clients import RETRY_CONFIG


class AssumedRole:
    """Clients with the temporary credentials of one AssumeRole call.

    The credentials last an hour (the role's default session): make one per piece of work
    rather than keeping it across invocations. Clients come from the process's default boto3
    session with these credentials, so the service models it already loaded are reused.
    """

    def __init__(self, sts_client: Any, role_arn: str, session_name: str) -> None:
        response = sts_client.assume_role(RoleArn=role_arn, RoleSessionName=session_name)
        credentials = response["Credentials"]
        self.role_arn = role_arn
        self._credentials = {
            "aws_access_key_id": credentials["AccessKeyId"],
            "aws_secret_access_key": credentials["SecretAccessKey"],
            "aws_session_token": credentials["SessionToken"],
        }

    def client(self, service: str) -> Any:
        """A boto3 client for `service` acting as the role, with standard retries."""
        return boto3.client(service, config=RETRY_CONFIG, **self._credentials)  # type: ignore[call-overload]
