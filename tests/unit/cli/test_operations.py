"""`guardrails status`, `history` and `rollback` against moto (the world of world.py)."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
from click.testing import CliRunner
from moto.sagemaker.models import sagemaker_backends

from guardrails import records
from guardrails.cli import cli
from guardrails.services.ssm import ServingModelParameter
from tests.aws import REGION, hold_lock
from tests.unit.cli.world import (
    ACCOUNT,
    CDK_JSON,
    ENDPOINT,
    PACKAGE_V2,
    a_rollout,
    only_line,
    run,
)

# --------------------------------------------------------------------------- status


def test_status_shows_endpoint_config_model_package_and_last_decisions(world, promoted):
    result = run("status", "--env", "prod")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert f"Environment        prod (account {ACCOUNT}, {REGION})" in out
    assert f"{ENDPOINT}: InService" in out
    assert "Endpoint config    config-v2" in out
    assert f"Model package      {PACKAGE_V2}" in out
    assert "Variants           AllTraffic: 2 instances" in out
    assert "Rollout in flight  none" in out
    assert "Last rollout       d-1 PROMOTED (linear)" in out
    decisions = out.split("Latest decisions of d-1 (newest first):", 1)[1]
    assert decisions.index("non-inferior") < decisions.index("waiting for min_samples")


def test_status_shows_the_rollout_in_flight_and_who_holds_the_lock(world, promoted):
    records.put_deployment(
        world.table,
        a_rollout(
            "d-2",
            previous_endpoint_config="config-v2",
            new_endpoint_config="config-v3",
            started_at="2026-11-21T09:00:00.000000Z",
            status=records.STATUS_BAKING,
        ),
    )
    hold_lock(world.table, ENDPOINT, "d-2")
    records.add_decision(
        world.table,
        deployment_id="d-2",
        decision="continue",
        reason="inconclusive",
        decided_by="judge",
    )
    result = run("status", "--env", "prod")
    assert result.exit_code == 0, result.output
    assert "Rollout in flight  d-2 BAKING (linear)" in result.stdout
    assert "lock held by d-2" in result.stdout
    assert "Latest decisions of d-2" in result.stdout
    assert "inconclusive" in result.stdout


def test_status_notes_an_endpoint_that_disagrees_with_its_record(world):
    record = a_rollout("d-1", new_endpoint_config="config-v3")
    records.put_deployment(world.table, record)
    records.update_deployment(world.table, record, status=records.STATUS_PROMOTED)
    result = run("status", "--env", "prod")
    assert (
        "Note: the endpoint serves config-v2, but rollout d-1 (PROMOTED) left it on config-v3"
        in (result.stdout)
    )


def test_status_of_a_failed_endpoint_exits_1(world, promoted):
    endpoint = sagemaker_backends[ACCOUNT][REGION].endpoints[ENDPOINT]
    endpoint.endpoint_status = "Failed"
    result = run("status", "--env", "prod")
    assert result.exit_code == 1
    assert f"Endpoint           {ENDPOINT}: Failed" in result.stdout


def test_status_json_carries_the_same_facts(world, promoted):
    result = run("status", "--env", "prod", "--json")
    assert result.exit_code == 0, result.output
    facts = json.loads(result.stdout)
    assert facts["endpoint"]["config"] == "config-v2"
    assert facts["endpoint"]["model_packages"] == [PACKAGE_V2]
    assert facts["latest"]["deployment_id"] == "d-1"
    assert [d["decision"] for d in facts["decisions"]] == ["promote", "continue"]


def test_status_of_a_missing_endpoint_is_operational_exit_3(world):
    world.stacks["Guardrails-prod-Endpoint"]["EndpointName"] = "guardrails-gone"
    result = run("status", "--env", "prod")
    assert result.exit_code == 3
    assert only_line(result.stderr) == (
        f"Error: endpoint guardrails-gone: not found in {REGION} (account {ACCOUNT})"
    )


def test_status_of_an_undeployed_environment_says_so_with_exit_3(world):
    del world.stacks["Guardrails-prod-Stateful"]
    result = run("status", "--env", "prod")
    assert result.exit_code == 3
    assert only_line(result.stderr) == (
        f"Error: stack Guardrails-prod-Stateful: not deployed in {REGION} (run cdk deploy)"
    )


def test_unknown_environment_is_bad_usage(world):
    result = run("status", "--env", "qa")
    assert result.exit_code == 2
    assert only_line(result.stderr) == (
        "Error: env: unknown environment 'qa' (known: dev, staging, prod)"
    )


def test_credentials_for_another_account_are_refused_with_exit_3(world):
    shipped = Path(__file__).resolve().parents[3] / "cdk.json"  # placeholder account 111111111111
    result = run("history", "--env", "prod", config=shipped)
    assert result.exit_code == 3
    assert only_line(result.stderr) == (
        "Error: environments.prod.account: is 111111111111, but the credentials are for "
        f"account {ACCOUNT} (pick another --profile)"
    )


def test_status_without_credentials_is_one_line_and_exit_3(monkeypatch, tmp_path):
    _no_credentials(monkeypatch, tmp_path)
    result = run("status", "--env", "prod")
    assert result.exit_code == 3
    assert only_line(result.stderr).startswith("Error: no AWS credentials found")


def _no_credentials(monkeypatch, tmp_path) -> None:
    for name in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_SECURITY_TOKEN",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


def test_json_errors_are_one_document_on_stderr_with_the_exit_code(monkeypatch, tmp_path):
    _no_credentials(monkeypatch, tmp_path)
    result = run("status", "--env", "prod", "--json")
    assert result.exit_code == 3
    assert result.stdout == ""
    error = json.loads(result.stderr)["error"]
    assert error["exit_code"] == 3 and error["kind"] == "operational"
    assert error["message"].startswith("no AWS credentials found")


def test_a_json_usage_error_is_json_too(world):
    result = run("status", "--env", "qa", "--json")
    assert result.exit_code == 2
    assert json.loads(result.stderr) == {
        "error": {
            "message": "env: unknown environment 'qa' (known: dev, staging, prod)",
            "exit_code": 2,
            "kind": "usage",
        }
    }


def test_without_a_cdk_json_status_works_from_the_deployed_stacks(
    world, promoted, monkeypatch, tmp_path
):
    for name in ("GUARDRAILS_CDK_JSON", "GUARDRAILS_APP_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no cdk.json here or above
    result = run("status", "--env", "prod", "--json", config=None)
    assert result.exit_code == 0, result.output
    facts = json.loads(result.stdout)
    # The region of the AWS profile (AWS_DEFAULT_REGION here), no account check.
    assert (facts["region"], facts["account"]) == (REGION, ACCOUNT)
    assert facts["endpoint"]["config"] == "config-v2"


def test_without_a_cdk_json_plan_with_env_says_where_it_looked(monkeypatch, tmp_path):
    for name in ("GUARDRAILS_CDK_JSON", "GUARDRAILS_APP_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    result = run("plan", "--env", "prod", "--baseline-rate", "0.01", config=None)
    assert result.exit_code == 2
    assert only_line(result.stderr) == (
        f"Error: config: no cdk.json with guardrails settings in {tmp_path} or its parents: "
        "run from the app's checkout, pass --app-dir DIR or set GUARDRAILS_APP_DIR"
    )


def test_unknown_profile_is_bad_usage(world):
    result = CliRunner().invoke(
        cli, ["--config", str(CDK_JSON), "--profile", "nope", "status", "--env", "prod"]
    )
    assert result.exit_code == 2
    assert only_line(result.stderr).startswith("Error: --profile: ")


# --------------------------------------------------------------------------- history


def test_history_lists_rollouts_newest_first(world, promoted):
    record = a_rollout(
        "d-2",
        previous_endpoint_config="config-v2",
        new_endpoint_config="config-v3",
        started_at="2026-11-21T09:00:00.000000Z",
    )
    records.put_deployment(world.table, record)
    records.update_deployment(
        world.table, record, status=records.STATUS_ROLLED_BACK, reason="error_rate regressed"
    )
    result = run("history", "--env", "prod")
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().splitlines()
    assert lines[0].split() == [
        "started", "(UTC)", "rollout", "status", "strategy",
        "model", "package", "configs", "by", "reason",
    ]  # fmt: skip
    assert lines[1].split()[:5] == ["2026-11-21", "09:00:00Z", "d-2", "ROLLED_BACK", "linear"]
    assert "config-v2 -> config-v3" in lines[1] and lines[1].endswith("error_rate regressed")
    assert lines[2].split()[2:4] == ["d-1", "PROMOTED"]
    assert "guardrails-prod/2" in lines[2]


def test_history_json_and_limit(world, promoted):
    records.put_deployment(world.table, a_rollout("d-2", started_at="2026-11-21T09:00:00.000000Z"))
    result = run("history", "--env", "prod", "--limit", "1", "--json")
    assert [r["deployment_id"] for r in json.loads(result.stdout)] == ["d-2"]


def test_history_without_rollouts_says_so(world):
    result = run("history", "--env", "prod")
    assert result.exit_code == 0
    assert result.stdout.strip() == f"No rollouts recorded for {ENDPOINT} (prod)."


# --------------------------------------------------------------------------- rollback


def test_rollback_returns_to_the_recorded_previous_config_and_tells_on_call(world, promoted):
    result = run("rollback", "--env", "prod", "--yes", "--reason", "p99 latency doubled")
    assert result.exit_code == 0, result.output
    assert world.updates == [
        {
            "EndpointName": ENDPOINT,
            "EndpointConfigName": "config-v1",
            "RetainDeploymentConfig": False,
            "RetainAllVariantProperties": True,
            "ExcludeRetainedVariantProperties": [
                {"VariantPropertyType": "DesiredWeight"},
                {"VariantPropertyType": "DataCaptureConfig"},
            ],
        }
    ]
    assert "Rollback target: config-v1 (recorded by rollout d-1)." in result.stdout
    assert "rollback from config-v2 to config-v1 started" in result.stdout
    decision = records.list_decisions(world.table, "d-1")[0]
    assert decision["decision"] == "rollback"
    assert decision["reason"] == "p99 latency doubled"
    assert decision["decided_by"] == f"cli:arn:aws:sts::{ACCOUNT}:user/moto"
    assert records.get_deployment(world.table, "d-1").status == records.STATUS_ROLLED_BACK
    [(_, text, _, _, _)] = world.notifications()
    assert "p99 latency doubled" in text
    # What serves now is recorded where the next `cdk deploy` reads it.
    serving = ServingModelParameter(
        boto3.client("ssm", region_name=REGION), "/guardrails/prod/serving-model"
    ).read()
    assert serving.endpoint_config == "config-v1"
    assert serving.deployment_id == f"cli-rollback:arn:aws:sts::{ACCOUNT}:user/moto"


def test_rollback_to_a_named_config(world, promoted):
    sagemaker = boto3.client("sagemaker", region_name=REGION)
    sagemaker.create_endpoint_config(
        EndpointConfigName="config-v0",
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": "model-v1",
                "InitialInstanceCount": 2,
                "InstanceType": "ml.m5.large",
            }
        ],
    )
    result = run("rollback", "--env", "prod", "--to", "config-v0", "--yes")
    assert result.exit_code == 0, result.output
    assert [u["EndpointConfigName"] for u in world.updates] == ["config-v0"]


def test_rollback_asks_first_and_does_nothing_when_declined(world, promoted):
    result = run("rollback", "--env", "prod", input="n\n")
    assert result.exit_code == 1
    assert f"Roll {ENDPOINT} back to config-v1? [y/N]" in result.stdout
    assert world.updates == []
    assert records.list_decisions(world.table, "d-1")[0]["decision"] == "promote"


def test_rollback_goes_ahead_when_confirmed(world, promoted):
    result = run("rollback", "--env", "prod", input="y\n")
    assert result.exit_code == 0, result.output
    assert [u["EndpointConfigName"] for u in world.updates] == ["config-v1"]


def test_rollback_refuses_while_a_rollout_holds_the_lock(world, promoted):
    hold_lock(world.table, ENDPOINT, "d-2")
    result = run("rollback", "--env", "prod", "--yes")
    assert result.exit_code == 1
    assert only_line(result.stderr) == (
        f"Error: refused: rollout d-2 (started by ci) holds the lock on {ENDPOINT}; "
        "wait for it or use --force"
    )
    assert world.updates == []


def test_rollback_force_overrides_the_lock(world, promoted):
    hold_lock(world.table, ENDPOINT, "d-2")
    result = run("rollback", "--env", "prod", "--yes", "--force")
    assert result.exit_code == 0, result.output
    assert [u["EndpointConfigName"] for u in world.updates] == ["config-v1"]


def test_rollback_refuses_a_target_that_does_not_exist(world, promoted):
    result = run("rollback", "--env", "prod", "--to", "config-v9", "--yes")
    assert result.exit_code == 1
    assert only_line(result.stderr) == (
        f"Error: refused: endpoint config config-v9 does not exist in {REGION}"
    )
    assert world.updates == []


def test_rollback_without_a_record_needs_a_target(world):
    result = run("rollback", "--env", "prod", "--yes")
    assert result.exit_code == 1
    assert only_line(result.stderr) == (
        f"Error: endpoint {ENDPOINT} has no rollout on record: name the config with --to"
    )


def test_rollback_to_what_already_serves_is_a_no_op(world, promoted):
    result = run("rollback", "--env", "prod", "--to", "config-v2", "--yes")
    assert result.exit_code == 0, result.output
    assert world.updates == []
    assert "already serves config-v2: nothing to roll back" in result.stdout


def test_rollback_of_a_missing_endpoint_is_one_line_and_exit_3(world, promoted):
    world.stacks["Guardrails-prod-Endpoint"]["EndpointName"] = "guardrails-gone"
    result = run("rollback", "--env", "prod", "--yes")
    assert result.exit_code == 3
    assert only_line(result.stderr).startswith("Error: endpoint guardrails-gone: not found")


def test_rollback_waits_for_an_endpoint_that_is_still_updating(world, promoted):
    sagemaker_backends[ACCOUNT][REGION].endpoints[ENDPOINT].endpoint_status = "Updating"
    result = run("rollback", "--env", "prod", "--yes")
    assert result.exit_code == 1
    assert only_line(result.stderr).startswith(
        f"Error: refused: endpoint {ENDPOINT} is Updating on config-v2; "
        "roll back once it is InService"
    )
    assert world.updates == []


def test_rollback_needs_a_reason(world, promoted):
    result = run("rollback", "--env", "prod", "--yes", "--reason", " ")
    assert result.exit_code == 2
    assert only_line(result.stderr) == "Error: --reason: say why the endpoint is rolled back"
    assert world.updates == []


def test_rollback_json_prints_what_it_did(world, promoted):
    result = run("rollback", "--env", "prod", "--yes", "--json", "--reason", "p99 doubled")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {
        "environment": "prod",
        "reason": "p99 doubled",
        "endpoint_name": ENDPOINT,
        "target_config": "config-v1",
        "previous_config": "config-v2",
        "changed": True,
        "message": f"endpoint {ENDPOINT}: rollback from config-v2 to config-v1 started",
        "serving_model_parameter": "/guardrails/prod/serving-model",
    }
    assert "Rollback target: config-v1" in result.stderr  # for the person, off stdout


def test_rollback_json_asks_on_stderr_and_keeps_stdout_one_document(world, promoted):
    result = run("rollback", "--env", "prod", "--json", input="y\n")
    assert result.exit_code == 0, result.output
    assert "Roll guardrails-prod back to config-v1? [y/N]" in result.stderr
    assert json.loads(result.stdout)["target_config"] == "config-v1"


def test_a_declined_json_rollback_is_a_json_error(world, promoted):
    result = run("rollback", "--env", "prod", "--json", input="n\n")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert json.loads(result.stderr.splitlines()[-1])["error"]["message"] == (
        "aborted: not confirmed"
    )
    assert world.updates == []
