"""The Step Functions seam: starting the rollout and release state machines, reading executions."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from guardrails.arns import execution_arn
from guardrails.services.errors import error_code


class StepFunctionsSeam:
    """StartExecution and DescribeExecution over a boto3 client."""

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

    def execution_status(self, execution_arn: str) -> str:
        """RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED (or PENDING_REDRIVE) of an execution."""
        response = self._client.describe_execution(executionArn=execution_arn)
        status: str = response["status"]
        return status
