"""The Step Functions seam: starting the rollout and release state machines."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from guardrails.arns import execution_arn
from guardrails.services.errors import error_code


class StepFunctionsSeam:
    """StartExecution over a boto3 client."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def start_execution(self, state_machine_arn: str, name: str, payload: str) -> str:
        """Start a state machine; a repeat with the same name and input is the same execution."""
        try:
            response = self._client.start_execution(
                stateMachineArn=state_machine_arn, name=name, input=payload
            )
        except ClientError as error:
            if error_code(error) != "ExecutionAlreadyExists":
                raise
            return execution_arn(state_machine_arn, name)
        arn: str = response["executionArn"]
        return arn
