"""The SageMaker Pipeline definition, generated offline and checked step by step."""

from __future__ import annotations

import json
import re
from dataclasses import replace

import boto3
import botocore.client
import pytest
from moto import mock_aws

from guardrails.release.record import PIPELINE_TEST_DATA
from pipelines import definition, evaluate, preprocess

REGION = "eu-west-1"
ARGS = definition.PipelineArguments(
    pipeline_name="guardrails-dev-model-build",
    region=REGION,
    role_arn="arn:aws:iam::123456789012:role/Guardrails-ModelBuildRole",
    bucket="guardrails-artifacts-example",
    kms_key_arn="arn:aws:kms:eu-west-1:123456789012:key/0000-1111",
    model_package_group="guardrails-dev",
    preprocess_code_uri="s3://guardrails-artifacts-example/model-pipeline/inputs/a/preprocess.py",
    evaluate_code_uri="s3://guardrails-artifacts-example/model-pipeline/inputs/b/evaluate.py",
    input_data_url="s3://guardrails-artifacts-example/model-pipeline/inputs/c/sample.csv",
    min_auc=0.72,
    min_accuracy=0.68,
    max_auc_drop=0.02,
    processing_instance_type="ml.m5.xlarge",
    training_instance_type="ml.c5.xlarge",
)


@pytest.fixture(scope="module")
def built() -> tuple[dict, list[str]]:
    """The definition JSON, and every AWS call made while building it (there must be none)."""
    calls: list[str] = []
    original = botocore.client.BaseClient._make_api_call

    def spy(client, operation, params):
        calls.append(operation)
        return original(client, operation, params)

    with mock_aws(), pytest.MonkeyPatch.context() as patch:
        patch.setattr(botocore.client.BaseClient, "_make_api_call", spy)
        boto3.setup_default_session(region_name=REGION)
        document = json.loads(definition.build_definition(ARGS))
    return document, calls


@pytest.fixture(scope="module")
def steps(built) -> dict[str, dict]:
    document, _ = built
    found = {}
    for step in document["Steps"]:
        found[step["Name"]] = step
        for nested in step["Arguments"].get("IfSteps", []) + step["Arguments"].get("ElseSteps", []):
            found[nested["Name"]] = nested
    return found


def test_building_the_definition_calls_no_aws_api(built):
    _, calls = built
    assert calls == []


def test_steps_run_preprocess_train_evaluate_then_the_gate(built, steps):
    document, _ = built
    assert [(s["Name"], s["Type"]) for s in document["Steps"]] == [
        ("Preprocess", "Processing"),
        ("Train", "Training"),
        ("Evaluate", "Processing"),
        ("QualityGate", "Condition"),
    ]
    gate = steps["QualityGate"]["Arguments"]
    assert [s["Name"] for s in gate["IfSteps"]] == ["RegisterModel"]
    assert [(s["Name"], s["Type"]) for s in gate["ElseSteps"]] == [("QualityGateFailed", "Fail")]


def test_each_step_consumes_the_previous_steps_outputs(steps):
    channels = steps["Train"]["Arguments"]["InputDataConfig"]
    assert {c["ChannelName"]: c["DataSource"]["S3DataSource"]["S3Uri"] for c in channels} == {
        "train": {"Get": "Steps.Preprocess.ProcessingOutputConfig.Outputs['train'].S3Output.S3Uri"},
        "validation": {
            "Get": "Steps.Preprocess.ProcessingOutputConfig.Outputs['validation'].S3Output.S3Uri"
        },
    }
    inputs = {
        i["InputName"]: i["S3Input"]["S3Uri"]
        for i in steps["Evaluate"]["Arguments"]["ProcessingInputs"]
    }
    assert inputs["model"] == {"Get": "Steps.Train.ModelArtifacts.S3ModelArtifacts"}
    assert inputs["code"] == ARGS.evaluate_code_uri
    assert steps["Evaluate"]["Arguments"]["AppSpecification"]["ContainerArguments"] == [
        "--baseline-auc",
        {"Std:Join": {"On": "", "Values": [{"Get": "Parameters.BaselineAuc"}]}},
    ]


def test_the_gate_checks_auc_accuracy_and_the_drop_against_the_approved_model(steps):
    conditions = steps["QualityGate"]["Arguments"]["Conditions"]
    summary = [
        (c["Type"], c["LeftValue"]["Std:JsonGet"]["Path"], c["RightValue"]["Get"])
        for c in conditions
    ]
    assert summary == [
        ("GreaterThanOrEqualTo", "binary_classification_metrics.auc.value", "Parameters.MinAuc"),
        (
            "GreaterThanOrEqualTo",
            "binary_classification_metrics.accuracy.value",
            "Parameters.MinAccuracy",
        ),
        ("LessThanOrEqualTo", "baseline.auc_drop", "Parameters.MaxAucDrop"),
    ]
    for condition in conditions:
        assert condition["LeftValue"]["Std:JsonGet"]["PropertyFile"] == {
            "Get": "Steps.Evaluate.PropertyFiles.EvaluationReport"
        }


def test_the_gate_reads_paths_the_evaluation_report_really_has():
    report = evaluate.build_report([0, 1, 1, 0], [0.1, 0.9, 0.6, 0.4], baseline_auc=0.8)
    for path in (definition.AUC_PATH, definition.ACCURACY_PATH, definition.AUC_DROP_PATH):
        node = report
        for key in path.split("."):
            node = node[key]
        assert isinstance(node, float), path


def test_thresholds_are_parameters_defaulting_to_the_configured_values(built):
    document, _ = built
    assert {p["Name"]: p["DefaultValue"] for p in document["Parameters"]} == {
        "InputDataUrl": ARGS.input_data_url,
        "BaselineAuc": 0.0,
        "MinAuc": 0.72,
        "MinAccuracy": 0.68,
        "MaxAucDrop": 0.02,
    }


def test_register_step_files_a_pending_package_with_its_evaluation_report(steps):
    register = steps["RegisterModel"]
    assert register["Type"] == "RegisterModel"
    arguments = register["Arguments"]
    assert arguments["ModelApprovalStatus"] == "PendingManualApproval"
    assert arguments["ModelPackageGroupName"] == "guardrails-dev"
    evaluation = "Steps.Evaluate.ProcessingOutputConfig.Outputs['evaluation'].S3Output.S3Uri"
    report_uri = {"Std:Join": {"On": "/", "Values": [{"Get": evaluation}, "evaluation.json"]}}
    assert arguments["ModelMetrics"]["ModelQuality"]["Statistics"] == {
        "ContentType": "application/json",
        "S3Uri": report_uri,
    }
    metadata = arguments["CustomerMetadataProperties"]
    assert set(metadata) == {"auc", "accuracy", "baseline_auc", "evaluation_report", "test_data"}
    test_split = "Steps.Preprocess.ProcessingOutputConfig.Outputs['test'].S3Output.S3Uri"
    assert metadata["test_data"] == {
        "Std:Join": {"On": "/", "Values": [{"Get": test_split}, "test.csv"]}
    }
    (container,) = arguments["InferenceSpecification"]["Containers"]
    assert container["ModelDataUrl"] == {"Get": "Steps.Train.ModelArtifacts.S3ModelArtifacts"}
    assert "sagemaker-xgboost:1.7-1" in container["Image"]
    assert arguments["InferenceSpecification"]["SupportedContentTypes"] == ["text/csv"]


def test_the_failed_gate_says_which_numbers_missed(steps):
    message = steps["QualityGateFailed"]["Arguments"]["ErrorMessage"]["Std:Join"]["Values"]
    assert message[0] == "Quality gate failed: AUC"
    assert {"Get": "Parameters.MaxAucDrop"} in message


def test_volumes_and_outputs_are_encrypted_with_the_key(steps):
    for name in ("Preprocess", "Evaluate"):
        arguments = steps[name]["Arguments"]
        cluster = arguments["ProcessingResources"]["ClusterConfig"]
        assert cluster["VolumeKmsKeyId"] == ARGS.kms_key_arn
        assert cluster["InstanceType"] == "ml.m5.xlarge"
        assert arguments["ProcessingOutputConfig"]["KmsKeyId"] == ARGS.kms_key_arn
    training = steps["Train"]["Arguments"]
    assert training["ResourceConfig"]["VolumeKmsKeyId"] == ARGS.kms_key_arn
    assert training["OutputDataConfig"]["KmsKeyId"] == ARGS.kms_key_arn
    assert training["ResourceConfig"]["InstanceType"] == "ml.c5.xlarge"
    assert training["HyperParameters"]["objective"] == "binary:logistic"


def test_every_role_bucket_and_account_comes_from_the_arguments(built):
    document, _ = built
    text = json.dumps(document)
    roles = {s for s in re.findall(r'"RoleArn": "([^"]+)"', text)}
    assert roles == {ARGS.role_arn}
    for uri in re.findall(r's3://[^"/]+', text):
        assert uri == f"s3://{ARGS.bucket}", uri
    accounts = set(re.findall(r"(?<!\d)\d{12}(?!\d)", text))
    image_accounts = set(re.findall(r"(\d{12})\.dkr\.ecr\." + REGION, text))
    assert accounts - image_accounts == {"123456789012"}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"role_arn": " "}, "role_arn: must not be empty"),
        ({"preprocess_code_uri": "preprocess.py"}, "preprocess_code_uri: must be an s3:// URI"),
        ({"min_auc": 0.3}, "min_auc: must be between 0.5 and 1.0"),
        ({"max_auc_drop": "0.1"}, "max_auc_drop: must be a number"),
    ],
)
def test_bad_arguments_name_the_field(change, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        replace(ARGS, **change)


def test_the_recorded_test_data_is_the_file_preprocess_writes(tmp_path):
    parts = {name: [[1.0, 0.5]] for name in preprocess.SPLITS}
    written = preprocess.write_splits(parts, tmp_path)
    assert written["test"] == tmp_path / "test" / definition.TEST_DATA_FILE
    assert definition.TEST_DATA_METADATA == PIPELINE_TEST_DATA  # what the approval step reads
