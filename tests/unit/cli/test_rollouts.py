"""`guardrails start`, `status --watch` and `abort` against moto's Step Functions.

moto records executions but runs none of our Lambdas, so `ScriptedRollout` plays the rollout:
each time the CLI sleeps between two looks, the next step writes what the rollout's steps
would (lock, record, decisions) and finally ends the execution the way the state machine does
(SUCCEEDED, or FAILED with the RolledBack error).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable

import boto3
import pytest

from guardrails import records
from guardrails.arns import execution_arn
from guardrails.cli import follow
from guardrails.services.stepfunctions import Execution
from tests.aws import INFERENCE_SPECIFICATION, REGION, hold_lock
from tests.unit.cli.world import ACCOUNT, ENDPOINT, World, a_rollout, only_line, run

CALLER = f"cli:arn:aws:sts::{ACCOUNT}:user/moto"
JUDGE_RESPONSE = {
    "decision": "continue",
    "reason": "error_rate: inconclusive",
    "metrics": [
        {
            "name": "error_rate",
            "decision": "continue",
            "estimate": 0.0021,
            "ci": [-0.0033, 0.0151],
            "p_value": 0.41,
            "n_canary": 612,
            "n_baseline": 11843,
            "reason": "inconclusive",
        }
    ],
}


def register(status: str = "Approved") -> str:
    sagemaker = boto3.client("sagemaker", region_name=REGION)
    groups = sagemaker.list_model_package_groups()["ModelPackageGroupSummaryList"]
    if not groups:
        sagemaker.create_model_package_group(ModelPackageGroupName="guardrails-prod")
    return sagemaker.create_model_package(
        ModelPackageGroupName="guardrails-prod",
        ModelApprovalStatus=status,
        InferenceSpecification=INFERENCE_SPECIFICATION,
    )["ModelPackageArn"]


def start_execution(world: World, name: str) -> str:
    """An execution started by someone else (the pipeline), still running."""
    stepfunctions = boto3.client("stepfunctions", region_name=REGION)
    return stepfunctions.start_execution(
        stateMachineArn=world.state_machine_arn, name=name, input="{}"
    )["executionArn"]


class ScriptedRollout:
    """The rollout's side of the story, one step per pause of the CLI between two looks."""

    def __init__(self, world: World, monkeypatch: pytest.MonkeyPatch) -> None:
        self.world = world
        self.steps: list[Callable[[], None]] = []
        self.pauses: list[float] = []
        monkeypatch.setattr(follow, "sleep", self._sleep)

    def _sleep(self, seconds: float) -> None:
        self.pauses.append(seconds)
        assert self.steps, "the CLI kept looking after the rollout ended"
        self.steps.pop(0)()

    def started_by_the_cli(self) -> tuple[str, str]:
        """The deployment id and execution ARN of the CLI's StartExecution."""
        name = self.world.called("StartExecution")[-1]["name"]
        return name, execution_arn(self.world.state_machine_arn, name)

    # What the Lambda steps write -------------------------------------------------------------

    def begin(self, deployment_id: str, arn: str) -> None:
        hold_lock(self.world.table, ENDPOINT, deployment_id, started_by=CALLER)
        records.put_deployment(
            self.world.table,
            a_rollout(deployment_id, status=records.STATUS_BAKING, execution_arn=arn),
        )
        self.decide(deployment_id, "start", "rollout started", by=CALLER)

    def decide(self, deployment_id: str, decision: str, reason: str, by: str = "judge") -> None:
        details = {"response": JUDGE_RESPONSE} if by == "judge" else {}
        records.add_decision(
            self.world.table,
            deployment_id=deployment_id,
            decision=decision,
            reason=reason,
            decided_by=by,
            details=details,
        )

    def end(self, deployment_id: str, arn: str, result: str, note: str = "") -> None:
        record = records.get_deployment(self.world.table, deployment_id)
        records.update_deployment(self.world.table, record, status=result, reason=note)
        self.decide(deployment_id, result.lower(), note, by="rollout")
        records.release_lock(self.world.table, endpoint_name=ENDPOINT, deployment_id=deployment_id)
        execution = self.world.execution(arn)
        if result == records.STATUS_PROMOTED:
            execution.status = "SUCCEEDED"
        else:
            execution.status, execution.error, execution.cause = "FAILED", "RolledBack", note


@pytest.fixture
def rollout(world, monkeypatch) -> ScriptedRollout:
    return ScriptedRollout(world, monkeypatch)


def then(rollout: ScriptedRollout, *steps: Callable[[str, str], None]) -> None:
    """Steps that act on the rollout the CLI started."""
    for step in steps:
        rollout.steps.append(lambda step=step: step(*rollout.started_by_the_cli()))


# --------------------------------------------------------------------------- start


def test_start_runs_the_rollout_state_machine_with_the_pipelines_input(world):
    package = register()
    result = run("start", "--env", "prod", "--model-package", package, "--reason", "hotfix 7")
    assert result.exit_code == 0, result.output
    [call] = world.called("StartExecution")
    assert call["stateMachineArn"] == world.state_machine_arn
    assert re.fullmatch(r"cli-v1-prod-\d{8}T\d{6}Z-[0-9a-f]{4}", call["name"])
    assert json.loads(call["input"]) == {
        "model_package_arn": package,
        "started_by": CALLER,
        "reason": "hotfix 7",
    }
    assert f"Started rollout {call['name']} of {package} on {ENDPOINT}" in result.stdout
    assert "Follow it with: guardrails status --env prod --watch" in result.stdout
    arn = execution_arn(world.state_machine_arn, call["name"])
    assert world.execution(arn).status == "RUNNING"


def test_start_json_is_one_document(world):
    package = register()
    result = run("start", "--env", "prod", "--model-package", package, "--json")
    assert result.exit_code == 0, result.output
    facts = json.loads(result.stdout)
    assert facts["result"] == "RUNNING"
    assert facts["model_package_arn"] == package
    assert facts["execution_arn"] == execution_arn(world.state_machine_arn, facts["deployment_id"])
    assert facts["reason"] == "started with the guardrails CLI"


def test_start_wait_follows_the_decisions_to_a_promotion(world, rollout):
    package = register()
    then(
        rollout,
        rollout.begin,
        lambda name, arn: rollout.decide(name, "continue", "error_rate: inconclusive"),
        lambda name, arn: rollout.end(name, arn, records.STATUS_PROMOTED, "all metrics fine"),
    )
    result = run("start", "--env", "prod", "--model-package", package, "--wait", "--interval", "5")
    assert result.exit_code == 0, result.output
    assert rollout.pauses == [5, 5, 5]
    name, _ = rollout.started_by_the_cli()
    out = result.stdout
    # Each decision once, oldest first, the judge's numbers under the judge's decision.
    order = [out.index(f"  {d}  ") for d in ("start", "continue", "promoted")]
    assert order == sorted(order)
    assert re.search(r"Z  continue\s+judge  error_rate: inconclusive\n", out)
    assert re.search(r"\n    error_rate\s+continue\s+\+0\.0021\s+\[-0\.0033, \+0\.0151\]", out)
    assert out.count("  start  ") == 1
    assert out.rstrip().endswith(f"Rollout {name} ended: PROMOTED (all metrics fine)")


def test_start_wait_exits_1_when_the_rollout_is_rolled_back(world, rollout):
    package = register()
    then(
        rollout,
        rollout.begin,
        lambda name, arn: rollout.end(
            name, arn, records.STATUS_ROLLED_BACK, "error_rate: regression"
        ),
    )
    result = run("start", "--env", "prod", "--model-package", package, "--wait")
    assert result.exit_code == 1
    assert result.stdout.rstrip().endswith("ended: ROLLED_BACK (error_rate: regression)")


def test_start_wait_json_reports_the_end_and_every_decision(world, rollout):
    package = register()
    then(
        rollout,
        rollout.begin,
        lambda name, arn: rollout.decide(name, "rollback", "error_rate: regression"),
        lambda name, arn: rollout.end(name, arn, records.STATUS_ROLLED_BACK, "regression"),
    )
    result = run("start", "--env", "prod", "--model-package", package, "--wait", "--json")
    assert result.exit_code == 1
    facts = json.loads(result.stdout)
    assert (facts["result"], facts["detail"]) == ("ROLLED_BACK", "regression")
    assert facts["record"]["status"] == records.STATUS_ROLLED_BACK
    assert [d["decision"] for d in facts["decisions"]] == ["rolled_back", "rollback", "start"]
    assert facts["decisions"][1]["details"]["response"]["metrics"][0]["n_canary"] == 612
    assert "Started rollout" in result.stderr  # the person's lines stay off stdout


def test_ctrl_c_stops_following_not_the_rollout(world, rollout):
    package = register()

    def interrupt() -> None:
        raise KeyboardInterrupt

    rollout.steps.append(interrupt)
    result = run("start", "--env", "prod", "--model-package", package, "--wait")
    assert result.exit_code == 1
    name, arn = rollout.started_by_the_cli()
    assert only_line(result.stderr) == (
        f"Error: stopped following rollout {name}; it goes on without you: "
        "guardrails status --env prod --watch"
    )
    assert world.execution(arn).status == "RUNNING"


def test_start_is_refused_while_a_rollout_holds_the_lock(world):
    package = register()
    hold_lock(world.table, ENDPOINT, "d-9")
    result = run("start", "--env", "prod", "--model-package", package)
    assert result.exit_code == 1
    assert only_line(result.stderr) == (
        f"Error: refused: rollout d-9 (started by ci) holds the lock on {ENDPOINT}; wait for "
        "it, or stop it with guardrails abort --env prod"
    )
    assert world.called("StartExecution") == []


def test_start_is_refused_for_a_package_that_is_not_approved(world):
    package = register(status="PendingManualApproval")
    result = run("start", "--env", "prod", "--model-package", package)
    assert result.exit_code == 1
    assert only_line(result.stderr) == (
        f"Error: refused: model package {package} is PendingManualApproval: only Approved "
        "model packages are rolled out"
    )
    assert world.called("StartExecution") == []


def test_start_takes_a_package_of_the_pipelines_account_and_leaves_its_checks_to_the_rollout(
    world,
):
    """Multi-account: the registry is the tooling account's; the rollout's roles may read it."""
    package = f"arn:aws:sagemaker:{REGION}:999999999999:model-package/guardrails-dev/7"
    result = run("start", "--env", "prod", "--model-package", package)
    assert result.exit_code == 0, result.output
    (params,) = world.called("StartExecution")
    assert json.loads(params["input"])["model_package_arn"] == package


@pytest.mark.parametrize(
    ("package", "error"),
    [
        ("guardrails-prod/3", "Error: --model-package: not a versioned model package ARN"),
        (f"arn:aws:sagemaker:eu-west-1:{ACCOUNT}:model-package/guardrails-prod/3",
         f"Error: --model-package: is in eu-west-1, but prod is in {REGION}"),
    ],
)  # fmt: skip
def test_start_with_a_bad_package_is_bad_usage(world, package, error):
    result = run("start", "--env", "prod", "--model-package", package)
    assert result.exit_code == 2
    assert only_line(result.stderr).startswith(error)
    assert world.called("StartExecution") == []


def test_start_without_the_rollout_stack_is_operational(world):
    package = register()
    del world.stacks["Guardrails-prod-Rollout"]
    result = run("start", "--env", "prod", "--model-package", package)
    assert result.exit_code == 3
    assert only_line(result.stderr) == (
        f"Error: stack Guardrails-prod-Rollout: not deployed in {REGION} (run cdk deploy)"
    )


def test_start_needs_a_model_package(world):
    result = run("start", "--env", "prod")
    assert result.exit_code == 2
    assert "Missing option '--model-package'" in result.stderr


# --------------------------------------------------------------------------- status --watch


def in_flight(world: World, rollout: ScriptedRollout, name: str = "d-2") -> str:
    arn = start_execution(world, name)
    rollout.begin(name, arn)
    rollout.decide(name, "continue", "waiting for min_samples")
    return arn


def test_status_watch_follows_the_rollout_in_flight_to_its_end(world, rollout):
    arn = in_flight(world, rollout)
    rollout.steps += [
        lambda: rollout.decide("d-2", "promote", "all metrics non-inferior"),
        lambda: rollout.end("d-2", arn, records.STATUS_PROMOTED, "promoted"),
    ]
    result = run("status", "--env", "prod", "--watch", "--interval", "7")
    assert result.exit_code == 0, result.output
    assert rollout.pauses == [7, 7]
    status, followed = result.stdout.split("Following rollout d-2 every 7 s", 1)
    assert "Rollout in flight  d-2 BAKING (linear)" in status
    assert "waiting for min_samples" in status and "waiting for min_samples" not in followed
    assert re.search(r"Z  promote\s+judge  all metrics non-inferior\n", followed)
    assert "    error_rate  continue" in followed  # the judge's latest numbers
    assert followed.rstrip().endswith("Rollout d-2 ended: PROMOTED (promoted)")


def test_status_watch_of_an_aborted_rollout_exits_1(world, rollout):
    arn = in_flight(world, rollout)

    def aborted() -> None:
        boto3.client("stepfunctions", region_name=REGION).stop_execution(executionArn=arn)

    rollout.steps.append(aborted)
    result = run("status", "--env", "prod", "--watch", "--json")
    assert result.exit_code == 1
    facts = json.loads(result.stdout)
    assert (facts["followed"], facts["result"]) == ("d-2", "ABORTED")
    assert facts["endpoint"]["name"] == ENDPOINT


def test_status_watch_without_a_rollout_in_flight_shows_the_status_once(world, rollout, promoted):
    result = run("status", "--env", "prod", "--watch")
    assert result.exit_code == 0, result.output
    assert "Rollout in flight  none" in result.stdout
    assert "Following" not in result.stdout
    assert rollout.pauses == []


# --------------------------------------------------------------------------- abort


def test_abort_stops_the_running_rollout_and_records_who_and_why(world, rollout):
    arn = in_flight(world, rollout)
    result = run("abort", "--env", "prod", "--reason", "canary pages on-call", "--yes")
    assert result.exit_code == 0, result.output
    assert world.called("StopExecution") == [
        {
            "executionArn": arn,
            "error": "AbortedByOperator",
            "cause": f"canary pages on-call (by {CALLER})",
        }
    ]
    assert world.execution(arn).status == "ABORTED"
    newest = records.list_decisions(world.table, "d-2")[0]
    assert (newest["decision"], newest["reason"], newest["decided_by"]) == (
        "abort",
        "canary pages on-call",
        CALLER,
    )
    assert "holds the endpoint's lock" in result.stdout
    assert "Rollout d-2 stopped; its cleanup now protects guardrails-prod." in result.stdout


def test_abort_asks_first_and_stops_nothing_when_declined(world, rollout):
    arn = in_flight(world, rollout)
    result = run("abort", "--env", "prod", "--reason", "why not", input="n\n")
    assert result.exit_code == 1
    assert "Stop rollout d-2? [y/N]" in result.stdout
    assert world.called("StopExecution") == []
    assert world.execution(arn).status == "RUNNING"


def test_abort_json(world, rollout):
    arn = in_flight(world, rollout)
    result = run("abort", "--env", "prod", "--reason", "bad canary", "--yes", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {
        "environment": "prod",
        "deployment_id": "d-2",
        "execution_arn": arn,
        "aborted_by": CALLER,
        "reason": "bad canary",
        "status": "ABORTED",
    }


def test_abort_with_nothing_running_exits_1(world, promoted):
    result = run("abort", "--env", "prod", "--reason", "just in case", "--yes")
    assert result.exit_code == 1
    assert only_line(result.stderr) == "Error: nothing to abort: no rollout of prod is running"


def test_abort_asks_which_when_several_run(world, rollout):
    first = start_execution(world, "d-3")
    second = start_execution(world, "d-4")
    result = run("abort", "--env", "prod", "--reason", "stop", "--yes")
    assert result.exit_code == 2
    assert only_line(result.stderr).startswith(
        "Error: --deployment: 2 rollouts are running (d-4 (started "
    )
    named = run("abort", "--env", "prod", "--reason", "stop", "--yes", "--deployment", "d-3")
    assert named.exit_code == 0, named.output
    assert [c["executionArn"] for c in world.called("StopExecution")] == [first]
    assert world.execution(second).status == "RUNNING"


@pytest.mark.parametrize(
    ("args", "error"),
    [
        ([], "Missing option '--reason'"),
        (["--reason", "  "], "Error: --reason: say why the rollout is stopped, in 1-1000"),
    ],
)
def test_abort_needs_a_reason(world, args, error):
    result = run("abort", "--env", "prod", "--yes", *args)
    assert result.exit_code == 2
    assert error in result.stderr
    assert world.called("StopExecution") == []


@pytest.mark.parametrize(
    ("status", "error", "cause", "expected"),
    [
        ("RUNNING", "", "", None),
        ("PENDING_REDRIVE", "", "", None),
        ("SUCCEEDED", "", "", ("PROMOTED", "record reason")),
        ("FAILED", "RolledBack", "regression", ("ROLLED_BACK", "regression")),
        ("FAILED", "RolloutRefused", "lock held", ("FAILED", "RolloutRefused: lock held")),
        ("ABORTED", "AbortedByOperator", "why (by me)",
         ("ABORTED", "AbortedByOperator: why (by me)")),
        ("TIMED_OUT", "", "", ("TIMED_OUT", "")),
    ],
)  # fmt: skip
def test_the_execution_says_how_a_rollout_ended(status, error, cause, expected):
    execution = Execution(arn="arn", name="d-1", status=status, error=error, cause=cause)
    record = a_rollout("d-1", status=records.STATUS_PROMOTED, reason="record reason")
    found = follow.ending(execution, record)
    outcome = (found.result, found.detail) if found else None
    assert outcome == expected


def test_without_an_execution_the_record_says_how_it_ended():
    assert follow.ending(None, a_rollout("d-1", status=records.STATUS_BAKING)) is None
    ended = follow.ending(None, a_rollout("d-1", status=records.STATUS_FAILED, reason="boom"))
    assert ended == follow.Ending("FAILED", "boom")
