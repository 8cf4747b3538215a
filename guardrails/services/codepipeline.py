"""The CodePipeline seam: the job a Lambda action runs for, pipeline state, job results."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

_SUMMARY_LIMIT = 2048  # executionDetails.summary
_MESSAGE_LIMIT = 5000  # failureDetails.message


@dataclass(frozen=True, kw_only=True)
class JobContext:
    """Where a job runs, as CodePipeline itself reports it (not as the event claims)."""

    job_id: str
    pipeline_name: str
    execution_id: str
    stage_name: str
    action_name: str


class CodePipelineSeam:
    """The CodePipeline calls of a Lambda invoke action, over a boto3 client."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def job_context(self, job_id: str) -> JobContext:
        """GetJobDetails: the pipeline, execution, stage and action of the job."""
        context = self._client.get_job_details(jobId=job_id)["jobDetails"]["data"][
            "pipelineContext"
        ]
        return JobContext(
            job_id=job_id,
            pipeline_name=context["pipelineName"],
            execution_id=context.get("pipelineExecutionId", ""),
            stage_name=context.get("stage", {}).get("name", ""),
            action_name=context.get("action", {}).get("name", ""),
        )

    def pipeline_state(self, pipeline_name: str) -> dict[str, Any]:
        """GetPipelineState: every stage's and action's latest execution."""
        state: dict[str, Any] = self._client.get_pipeline_state(name=pipeline_name)
        return state

    def succeed(
        self, job_id: str, summary: str, variables: Mapping[str, str] | None = None
    ) -> None:
        """Report the job done, with output variables for later actions."""
        request: dict[str, Any] = {
            "jobId": job_id,
            "executionDetails": {"summary": summary[:_SUMMARY_LIMIT], "percentComplete": 100},
        }
        if variables:
            request["outputVariables"] = dict(variables)
        self._client.put_job_success_result(**request)

    def fail(self, job_id: str, message: str) -> None:
        """Report the job failed; the pipeline execution stops there."""
        self._client.put_job_failure_result(
            jobId=job_id,
            failureDetails={"type": "JobFailed", "message": message[:_MESSAGE_LIMIT]},
        )
