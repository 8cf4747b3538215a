"""The Step Functions seam: start, follow and stop rollout executions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from guardrails.arns import execution_arn
from guardrails.services.errors import error_code

RUNNING = "RUNNING"


@dataclass(frozen=True)
class Execution:
    """What DescribeExecution says about one execution."""

    arn: str
    name: str
    status: str  # RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED, PENDING_REDRIVE
    error: str = ""  # the Fail state's error, e.g. RolledBack
    cause: str = ""
    started_at: datetime | None = None
    stopped_at: datetime | None = None

    @property
    def running(self) -> bool:
        return self.status == RUNNING


class StepFunctionsSeam:
    """StartExecution, DescribeExecution, ListExecutions and StopExecution over a boto3 client."""

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

    def describe_execution(self, arn: str) -> Execution:
        response = self._client.describe_execution(executionArn=arn)
        return Execution(
            arn=arn,
            name=response["name"],
            status=response["status"],
            error=response.get("error", ""),
            cause=response.get("cause", ""),
            started_at=response.get("startDate"),
            stopped_at=response.get("stopDate"),
        )

    def running_executions(self, state_machine_arn: str) -> list[Execution]:
        """The state machine's running executions, newest first."""
        pages = self._client.get_paginator("list_executions").paginate(
            stateMachineArn=state_machine_arn, statusFilter=RUNNING
        )
        return [
            Execution(
                arn=item["executionArn"],
                name=item["name"],
                status=item["status"],
                started_at=item.get("startDate"),
            )
            for page in pages
            for item in page["executions"]
        ]

    def stop_execution(self, arn: str, *, error: str, cause: str) -> None:
        """Stop a running execution; its status becomes ABORTED with this error and cause."""
        self._client.stop_execution(executionArn=arn, error=error, cause=cause)
