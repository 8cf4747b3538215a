"""CodePipeline's side of the release's Lambda actions, faked: moto lacks the job calls.

Only CodePipeline's operations are patched (GetJobDetails, GetPipelineState, PutJob*Result;
FACTS.md); every other call goes to moto.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import botocore.client
import pytest

EVENTS = Path(__file__).resolve().parents[2] / "fixtures" / "events"
PIPELINE = "Guardrails-Pipeline-ModelPipeline1A2B3C4D"
EXECUTION = "5e1f0a2b-3c4d-4e5f-9a8b-7c6d5e4f3a2b"
APPROVER = "arn:aws:sts::111111111111:assumed-role/Approver/carol"
JOB_ID = "c0d3b1a2-5e6f-4a7b-8c9d-0e1f2a3b4c5d"


@dataclass
class FakeCodePipeline:
    """What CodePipeline would answer, and the job results the handler reported.

    The job runs in `stage`/`action`; the manual approval `approval_stage`/Approve was given by
    `approver` in pipeline execution `approved_in`.
    """

    approver: str | None = APPROVER
    approved_in: str = EXECUTION
    stage: str = "Approve"
    action: str = "MarkApproved"
    approval_stage: str = "Approve"
    approved_at: datetime = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)
    results: list[tuple[str, dict]] = field(default_factory=list)

    def answer(self, operation: str, params: dict) -> dict[str, Any]:
        if operation == "GetJobDetails":
            context = {
                "pipelineName": PIPELINE,
                "pipelineExecutionId": EXECUTION,
                "stage": {"name": self.stage},
                "action": {"name": self.action},
            }
            return {"jobDetails": {"id": params["jobId"], "data": {"pipelineContext": context}}}
        if operation == "GetPipelineState":
            latest: dict[str, Any] = {
                "status": "Succeeded",
                "summary": "AUC beats the baseline",
                "lastStatusChange": self.approved_at,
            }
            if self.approver:
                latest["lastUpdatedBy"] = self.approver
            return {
                "pipelineName": params["name"],
                "stageStates": [
                    {
                        "stageName": self.approval_stage,
                        "latestExecution": {"pipelineExecutionId": self.approved_in},
                        "actionStates": [{"actionName": "Approve", "latestExecution": latest}],
                    }
                ],
            }
        self.results.append((operation, params))
        return {}

    def assert_refused(self, result: dict, message: str) -> None:
        """The handler failed the job (one result) with `message` in its reason."""
        assert result["status"] == "refused"
        ((operation, params),) = self.results
        assert operation == "PutJobFailureResult"
        assert params["failureDetails"]["type"] == "JobFailed"
        assert message in params["failureDetails"]["message"]


@contextmanager
def faked_codepipeline(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeCodePipeline]:
    """Inside moto: CodePipeline's calls answered by a FakeCodePipeline."""
    fake = FakeCodePipeline()
    original = botocore.client.BaseClient._make_api_call

    def call(client, operation, params):
        if client.meta.service_model.service_name == "codepipeline":
            return fake.answer(operation, params)
        return original(client, operation, params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", call)
    yield fake


def job_event(**user_parameters: str) -> dict[str, Any]:
    """The recorded Lambda invoke event, with these UserParameters."""
    event = json.loads((EVENTS / "codepipeline_mark_approved.json").read_text())
    configuration = event["CodePipeline.job"]["data"]["actionConfiguration"]["configuration"]
    configuration["UserParameters"] = json.dumps(user_parameters)
    return event
