"""pipelines/run.py: baseline lookup, waiting, and what the Train stage hands on."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import boto3
import pytest
import yaml
from botocore.stub import ANY, Stubber
from moto import mock_aws

from pipelines import definition, run
from tests.aws import INFERENCE_SPECIFICATION

REGION = "us-east-1"
GROUP = "guardrails-dev"
BUCKET = "artifacts"
PACKAGE = f"arn:aws:sagemaker:{REGION}:123456789012:model-package/{GROUP}/7"
EXECUTION = f"arn:aws:sagemaker:{REGION}:123456789012:pipeline/p/execution/abc123"
BUILDSPEC = Path(run.__file__).parent / "buildspec-train.yml"
CONTAINER = {"Image": "image", "ModelDataUrl": "s3://artifacts/model.tar.gz"}


@pytest.fixture
def aws():
    with mock_aws():
        sagemaker = boto3.client("sagemaker", region_name=REGION)
        s3 = boto3.client("s3", region_name=REGION)
        sagemaker.create_model_package_group(ModelPackageGroupName=GROUP)
        s3.create_bucket(Bucket=BUCKET)
        yield sagemaker, s3


def register(sagemaker, status: str = "Approved", **extra) -> str:
    response = sagemaker.create_model_package(
        ModelPackageGroupName=GROUP,
        ModelApprovalStatus=status,
        InferenceSpecification=INFERENCE_SPECIFICATION,
        **extra,
    )
    return response["ModelPackageArn"]



def expect_registered_step(stubber) -> None:
    """The pipeline execution's steps: the register step made PACKAGE."""
    stubber.add_response(
        "list_pipeline_execution_steps",
        {
            "PipelineExecutionSteps": [
                {
                    "StepName": definition.REGISTER_STEP,
                    "StepStatus": "Succeeded",
                    "Metadata": {"RegisterModel": {"Arn": PACKAGE}},
                }
            ]
        },
    )


def registered_package(status: str) -> dict:
    """DescribeModelPackage of PACKAGE with the given approval status."""
    return {
        "ModelPackageName": GROUP,
        "ModelPackageArn": PACKAGE,
        "CreationTime": "2026-01-01T00:00:00Z",
        "ModelPackageStatus": "Completed",
        "ModelPackageStatusDetails": {"ValidationStatuses": []},
        "ModelApprovalStatus": status,
    }

def test_no_approved_package_means_a_zero_baseline(aws):
    sagemaker, s3 = aws
    register(sagemaker, status="PendingManualApproval", CustomerMetadataProperties={"auc": "0.9"})
    assert run.find_baseline(sagemaker, s3, GROUP) == run.Baseline()


def test_baseline_is_the_newest_approved_packages_recorded_auc(aws):
    sagemaker, s3 = aws
    register(sagemaker, CustomerMetadataProperties={"auc": "0.81"})
    newest = register(sagemaker, CustomerMetadataProperties={"auc": "0.86"})
    register(sagemaker, status="Rejected", CustomerMetadataProperties={"auc": "0.99"})
    assert run.find_baseline(sagemaker, s3, GROUP) == run.Baseline(
        auc=0.86, model_package_arn=newest
    )


def test_baseline_falls_back_to_the_packages_evaluation_report(aws):
    sagemaker, s3 = aws
    report = {"binary_classification_metrics": {"auc": {"value": 0.77}}}
    s3.put_object(Bucket=BUCKET, Key="reports/evaluation.json", Body=json.dumps(report))
    statistics = {
        "ContentType": "application/json",
        "S3Uri": f"s3://{BUCKET}/reports/evaluation.json",
    }
    arn = register(sagemaker, ModelMetrics={"ModelQuality": {"Statistics": statistics}})
    assert run.find_baseline(sagemaker, s3, GROUP) == run.Baseline(auc=0.77, model_package_arn=arn)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({}, "records no AUC"),
        ({"CustomerMetadataProperties": {"auc": "high"}}, "recorded AUC 'high' is not a number"),
        ({"CustomerMetadataProperties": {"auc": "7"}}, "recorded AUC 7.0 is outside 0-1"),
    ],
)
def test_an_approved_package_without_a_usable_auc_stops_training(aws, extra, message):
    sagemaker, s3 = aws
    register(sagemaker, **extra)
    with pytest.raises(run.RunError, match=message):
        run.find_baseline(sagemaker, s3, GROUP)


def stubbed_sagemaker() -> tuple[object, Stubber]:
    client = boto3.client("sagemaker", region_name=REGION)
    return client, Stubber(client)


def execution(status: str) -> dict:
    return {"PipelineExecutionArn": EXECUTION, "PipelineExecutionStatus": status}


def test_waits_until_the_execution_succeeds():
    client, stubber = stubbed_sagemaker()
    for status in ("Executing", "Executing", "Succeeded"):
        stubber.add_response(
            "describe_pipeline_execution", execution(status), {"PipelineExecutionArn": EXECUTION}
        )
    sleeps: list[float] = []
    with stubber:
        run.wait_for_execution(
            client, EXECUTION, timeout_seconds=600, poll_seconds=30, sleep=sleeps.append
        )
    assert sleeps == [30, 30]
    stubber.assert_no_pending_responses()


def test_a_failed_quality_gate_fails_the_build_with_the_gates_message():
    client, stubber = stubbed_sagemaker()
    stubber.add_response("describe_pipeline_execution", execution("Failed"))
    gate_message = "Quality gate failed: AUC 0.61 (at least 0.7 ), ..."
    stubber.add_response(
        "list_pipeline_execution_steps",
        {
            "PipelineExecutionSteps": [
                {
                    "StepName": definition.GATE_FAILED_STEP,
                    "StepStatus": "Failed",
                    "Metadata": {"Fail": {"ErrorMessage": gate_message}},
                },
                {"StepName": definition.GATE_STEP, "StepStatus": "Succeeded"},
            ]
        },
        {"PipelineExecutionArn": EXECUTION},
    )
    with stubber, pytest.raises(run.RunError) as error:
        run.wait_for_execution(client, EXECUTION, timeout_seconds=60, poll_seconds=1)
    assert str(error.value) == f"pipeline execution failed: {gate_message}"


def test_a_failed_step_is_named():
    client, stubber = stubbed_sagemaker()
    stubber.add_response("describe_pipeline_execution", execution("Failed"))
    stubber.add_response(
        "list_pipeline_execution_steps",
        {
            "PipelineExecutionSteps": [
                {"StepName": "Train", "StepStatus": "Failed", "FailureReason": "OOM"}
            ]
        },
    )
    with stubber, pytest.raises(run.RunError, match="step Train failed: OOM"):
        run.wait_for_execution(client, EXECUTION, timeout_seconds=60, poll_seconds=1)


def test_an_execution_that_runs_too_long_is_stopped():
    client, stubber = stubbed_sagemaker()
    stubber.add_response("describe_pipeline_execution", execution("Executing"))
    stubber.add_response(
        "stop_pipeline_execution",
        {"PipelineExecutionArn": EXECUTION},
        {"PipelineExecutionArn": EXECUTION},
    )
    clock = iter([0.0, 601.0])
    with stubber, pytest.raises(run.RunError, match="still Executing after 10 minutes; stopped"):
        run.wait_for_execution(
            client,
            EXECUTION,
            timeout_seconds=600,
            poll_seconds=30,
            sleep=lambda _: None,
            clock=lambda: next(clock),
        )
    stubber.assert_no_pending_responses()


def cli_args(tmp_path: Path, *extra: str) -> list[str]:
    return [
        "--pipeline-name", "guardrails-dev-model-build",
        "--region", REGION,
        "--role-arn", "arn:aws:iam::123456789012:role/build",
        "--bucket", BUCKET,
        "--kms-key-arn", f"arn:aws:kms:{REGION}:123456789012:key/k",
        "--model-package-group", GROUP,
        "--min-auc", "0.7",
        "--min-accuracy", "0.7",
        "--max-auc-drop", "0.01",
        "--processing-instance-type", "ml.m5.large",
        "--training-instance-type", "ml.m5.large",
        "--source-version", "0123456789abcdef",
        "--output-dir", str(tmp_path / "out"),
        *extra,
    ]  # fmt: skip


def test_a_missing_argument_is_one_line(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        run.parse_args(cli_args(tmp_path)[2:])  # no --pipeline-name
    error = capsys.readouterr().err
    assert exit_.value.code == 2
    assert error == "run: the following arguments are required: --pipeline-name\n"


def test_run_registers_and_hands_the_candidate_to_the_next_stages(tmp_path, monkeypatch):
    monkeypatch.setattr(run.definition, "build_definition", lambda args: '{"Version": "x"}')
    sagemaker, stubber = stubbed_sagemaker()
    stubber.add_response(
        "list_model_packages",
        {"ModelPackageSummaryList": []},
        {
            "ModelPackageGroupName": GROUP,
            "ModelApprovalStatus": "Approved",
            "SortBy": "CreationTime",
            "SortOrder": "Descending",
            "MaxResults": 1,
        },
    )
    stubber.add_client_error(
        "describe_pipeline", "ResourceNotFound", "no such pipeline", 400,
        expected_params={"PipelineName": "guardrails-dev-model-build"},
    )  # fmt: skip
    stubber.add_response(
        "create_pipeline",
        {"PipelineArn": "arn:aws:sagemaker:us-east-1:123456789012:pipeline/p"},
        {
            "PipelineName": "guardrails-dev-model-build",
            "PipelineDefinition": '{"Version": "x"}',
            "RoleArn": "arn:aws:iam::123456789012:role/build",
            "PipelineDescription": ANY,
        },
    )
    stubber.add_response(
        "start_pipeline_execution",
        {"PipelineExecutionArn": EXECUTION},
        {
            "PipelineName": "guardrails-dev-model-build",
            "PipelineExecutionDisplayName": "commit-0123456789ab",
            "PipelineParameters": [{"Name": "BaselineAuc", "Value": "0.0"}],
        },
    )
    stubber.add_response("describe_pipeline_execution", execution("Succeeded"))
    expect_registered_step(stubber)
    stubber.add_response(
        "describe_model_package",
        {
            **registered_package("PendingManualApproval"),
            "CustomerMetadataProperties": {
                "auc": "0.8731",
                "accuracy": "0.8012",
                "baseline_auc": "0.0",
                "evaluation_report": f"s3://{BUCKET}/model-pipeline/runs/abc123/evaluation/evaluation.json",
            },
        },
        {"ModelPackageName": PACKAGE},
    )
    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket=BUCKET)
        with stubber:
            candidate = run.run(run.parse_args(cli_args(tmp_path)), sagemaker=sagemaker, s3=s3)
        objects = s3.list_objects_v2(Bucket=BUCKET)["Contents"]
    uploaded = {item["Key"].rsplit("/", 1)[-1] for item in objects}
    stubber.assert_no_pending_responses()
    assert uploaded == {"preprocess.py", "evaluate.py", "sample.csv"}
    assert candidate.model_package_arn == PACKAGE

    out = tmp_path / "out"
    summary = json.loads((out / "candidate.json").read_text())
    assert summary["metrics"] == {"auc": 0.8731, "accuracy": 0.8012}
    assert summary["baseline"] == {"auc": 0.0, "model_package_arn": ""}

    # The buildspec sources exported.env in the build shell: check what a shell sees.
    names = " ".join(f"${name}" for name in run.EXPORTED_VARIABLES)
    shell = subprocess.run(
        ["sh", "-c", f'. "{out / "exported.env"}" && printf "%s\\n" {names}'],
        capture_output=True,
        text=True,
        check=True,
    )
    assert shell.stdout.splitlines() == [
        PACKAGE,
        "0.8731",
        "0.8012",
        "none",
        "https://s3.console.aws.amazon.com/s3/object/artifacts?region=us-east-1"
        "&prefix=model-pipeline/runs/abc123/evaluation/evaluation.json",
        EXECUTION,
    ]


def test_a_package_that_is_not_pending_is_refused():
    sagemaker, stubber = stubbed_sagemaker()
    expect_registered_step(stubber)
    stubber.add_response(
        "describe_model_package",
        registered_package("Approved"),
    )
    with stubber, pytest.raises(run.RunError, match="only the approval stage may approve"):
        run.registered_candidate(sagemaker, EXECUTION, run.Baseline())


def test_buildspec_exports_exactly_what_run_writes():
    buildspec = yaml.safe_load(BUILDSPEC.read_text())
    assert tuple(buildspec["env"]["exported-variables"]) == run.EXPORTED_VARIABLES
    assert buildspec["artifacts"]["files"] == [run.CANDIDATE_FILE]
