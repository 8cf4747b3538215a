"""The SageMaker Pipeline: preprocess, train, evaluate, quality gate, register.

Everything account-specific (role, bucket, key, model package group, thresholds) comes in as
arguments, which the Train stage's CodeBuild project passes from environment variables that CDK
sets from the stacks: nothing here names an account, bucket or ARN.

Built with the SageMaker Python SDK 3.x. Building the definition makes no AWS call: image URIs
are resolved from the SDK's bundled tables, code is already in S3, telemetry is off and the
SDK's client-side IAM simulation is skipped (the role comes from CDK with exactly what the
steps need, and the build role is not allowed to simulate policies).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, fields

import boto3
from sagemaker.core import image_uris
from sagemaker.core.config.config_manager import SageMakerConfig
from sagemaker.core.model_metrics import MetricsSource, ModelMetrics
from sagemaker.core.processing import ScriptProcessor
from sagemaker.core.shapes import (
    ProcessingInput,
    ProcessingOutput,
    ProcessingS3Input,
    ProcessingS3Output,
)
from sagemaker.core.training.configs import (
    Compute,
    InputData,
    OutputDataConfig,
    StoppingCondition,
)
from sagemaker.core.workflow.conditions import (
    ConditionGreaterThanOrEqualTo,
    ConditionLessThanOrEqualTo,
)
from sagemaker.core.workflow.execution_variables import ExecutionVariables
from sagemaker.core.workflow.functions import Join, JsonGet
from sagemaker.core.workflow.parameters import ParameterFloat, ParameterString
from sagemaker.core.workflow.pipeline_context import PipelineSession
from sagemaker.core.workflow.properties import PropertyFile
from sagemaker.mlops.workflow.condition_step import ConditionStep
from sagemaker.mlops.workflow.fail_step import FailStep
from sagemaker.mlops.workflow.model_step import ModelStep
from sagemaker.mlops.workflow.pipeline import Pipeline
from sagemaker.mlops.workflow.steps import ProcessingStep, TrainingStep
from sagemaker.serve.model_builder import ModelBuilder
from sagemaker.train.model_trainer import ModelTrainer

from pipelines import ARTIFACT_PREFIX

PREPROCESS_STEP = "Preprocess"
TRAIN_STEP = "Train"
EVALUATE_STEP = "Evaluate"
GATE_STEP = "QualityGate"
REGISTER_STEP = "RegisterModel"
GATE_FAILED_STEP = "QualityGateFailed"

INPUT_DATA_PARAMETER = "InputDataUrl"
BASELINE_AUC_PARAMETER = "BaselineAuc"
MIN_AUC_PARAMETER = "MinAuc"
MIN_ACCURACY_PARAMETER = "MinAccuracy"
MAX_AUC_DROP_PARAMETER = "MaxAucDrop"

# JSON paths into pipelines/evaluate.py's report.
AUC_PATH = "binary_classification_metrics.auc.value"
ACCURACY_PATH = "binary_classification_metrics.accuracy.value"
AUC_DROP_PATH = "baseline.auc_drop"
REPORT_FILE = "evaluation.json"

# Only the approval step ever sets Approved: the jobs' role may create packages only with this
# status (an IAM condition on sagemaker:ModelApprovalStatus).
APPROVAL_STATUS = "PendingManualApproval"
TEST_DATA_METADATA = "test_data"  # metadata key: the held-out test split's s3:// URI
TEST_DATA_FILE = "test.csv"  # what pipelines/preprocess.py writes into the test split
SKLEARN_VERSION = "1.2-1"  # processing container for preprocess.py
XGBOOST_VERSION = "1.7-1"  # training, evaluation and serving container
CONTENT_TYPE = "text/csv"
HYPERPARAMETERS = {
    "objective": "binary:logistic",
    "eval_metric": "auc",
    "num_round": "200",
    "max_depth": "4",
    "eta": "0.1",
    "subsample": "0.8",
    "early_stopping_rounds": "20",
}
_SDK_CONFIG = {
    "SchemaVersion": "1.0",
    "SageMaker": {"PythonSDK": {"Modules": {"TelemetryOptOut": True}}},
}


@dataclass(frozen=True, kw_only=True)
class PipelineArguments:
    """What the pipeline is built from; all of it set by CDK through the build environment."""

    pipeline_name: str
    region: str
    role_arn: str  # SageMaker execution role of every step
    bucket: str  # artifact bucket: code, data splits, models, reports
    kms_key_arn: str  # encrypts volumes and outputs
    model_package_group: str
    preprocess_code_uri: str  # s3:// URI of preprocess.py
    evaluate_code_uri: str  # s3:// URI of evaluate.py
    input_data_url: str  # s3:// URI of the raw CSV data (default of InputDataUrl)
    min_auc: float
    min_accuracy: float
    max_auc_drop: float
    processing_instance_type: str = "ml.m5.large"
    training_instance_type: str = "ml.m5.large"
    prefix: str = ARTIFACT_PREFIX  # key prefix of everything the pipeline writes

    def __post_init__(self) -> None:
        for item in fields(self):
            value = getattr(self, item.name)
            if isinstance(value, str) and not value.strip():
                raise ValueError(f"{item.name}: must not be empty")
        for name in ("preprocess_code_uri", "evaluate_code_uri", "input_data_url"):
            if not getattr(self, name).startswith("s3://"):
                raise ValueError(f"{name}: must be an s3:// URI (got {getattr(self, name)!r})")
        for name, low, high in (
            ("min_auc", 0.5, 1.0),
            ("min_accuracy", 0.5, 1.0),
            ("max_auc_drop", 0.0, 0.5),
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(f"{name}: must be a number (got {value!r})")
            if not low <= value <= high:
                raise ValueError(f"{name}: must be between {low} and {high} (got {value})")

    def s3_uri(self, *parts: str) -> str:
        """s3://<bucket>/<prefix>/<parts...>."""
        return "/".join([f"s3://{self.bucket}", self.prefix, *parts])


@contextmanager
def _offline_sdk() -> Iterator[None]:
    """Skip the SDK's IAM policy simulation and its repeated config validation, then restore.

    The SDK re-validates its config against a large JSON schema on every lookup (about 50 per
    build, half a second each); ours is a constant, validated once here.
    """
    SageMakerConfig.validate_sagemaker_config(_SDK_CONFIG)
    previous = os.environ.get("SAGEMAKER_VALIDATE_ROLE")
    validate = SageMakerConfig.__dict__["validate_sagemaker_config"]
    os.environ["SAGEMAKER_VALIDATE_ROLE"] = "false"
    SageMakerConfig.validate_sagemaker_config = staticmethod(_validated_once)  # type: ignore[method-assign]
    try:
        yield
    finally:
        SageMakerConfig.validate_sagemaker_config = validate  # type: ignore[method-assign]
        if previous is None:
            os.environ.pop("SAGEMAKER_VALIDATE_ROLE", None)
        else:
            os.environ["SAGEMAKER_VALIDATE_ROLE"] = previous


def _validated_once(sagemaker_config: dict | None = None) -> None:
    if sagemaker_config is not _SDK_CONFIG:
        raise ValueError("pipelines.definition: unexpected SageMaker SDK config")


def _run_output(args: PipelineArguments, name: str) -> Join:
    """s3://<bucket>/<prefix>/runs/<execution id>/<name>: one folder per pipeline execution."""
    return Join(
        on="/", values=[args.s3_uri("runs"), ExecutionVariables.PIPELINE_EXECUTION_ID, name]
    )


def build_definition(args: PipelineArguments) -> str:
    """The pipeline definition JSON that CreatePipeline/UpdatePipeline take."""
    # The SDK builds the steps' requests lazily, inside definition(): keep both in the context.
    with _offline_sdk():
        definition: str = _build(args).definition()
    return definition


def _build(args: PipelineArguments) -> Pipeline:
    session = PipelineSession(
        boto_session=boto3.Session(region_name=args.region),
        default_bucket=args.bucket,
        default_bucket_prefix=args.prefix,
        sagemaker_config=_SDK_CONFIG,
    )
    input_data = ParameterString(INPUT_DATA_PARAMETER, default_value=args.input_data_url)
    baseline_auc = ParameterFloat(BASELINE_AUC_PARAMETER, default_value=0.0)
    min_auc = ParameterFloat(MIN_AUC_PARAMETER, default_value=float(args.min_auc))
    min_accuracy = ParameterFloat(MIN_ACCURACY_PARAMETER, default_value=float(args.min_accuracy))
    max_auc_drop = ParameterFloat(MAX_AUC_DROP_PARAMETER, default_value=float(args.max_auc_drop))
    sklearn_image = image_uris.retrieve("sklearn", region=args.region, version=SKLEARN_VERSION)
    xgboost_image = image_uris.retrieve("xgboost", region=args.region, version=XGBOOST_VERSION)

    preprocess = ProcessingStep(
        name=PREPROCESS_STEP,
        step_args=_processor(args, session, sklearn_image, "preprocess").run(
            code=args.preprocess_code_uri,
            inputs=[_input("raw", input_data, "/opt/ml/processing/raw")],
            outputs=[
                _output(split, _run_output(args, split), f"/opt/ml/processing/{split}")
                for split in ("train", "validation", "test")
            ],
            arguments=["--input-dir", "/opt/ml/processing/raw"],
        ),
    )
    split_uri = preprocess.properties.ProcessingOutputConfig.Outputs

    trainer = ModelTrainer(
        training_image=xgboost_image,
        role=args.role_arn,
        sagemaker_session=session,
        base_job_name="guardrails-train",
        compute=Compute(
            instance_type=args.training_instance_type,
            instance_count=1,
            volume_size_in_gb=10,
            volume_kms_key_id=args.kms_key_arn,
        ),
        stopping_condition=StoppingCondition(max_runtime_in_seconds=3600),
        hyperparameters=HYPERPARAMETERS,
        output_data_config=OutputDataConfig(
            s3_output_path=_run_output(args, "model"), kms_key_id=args.kms_key_arn
        ),
    )
    train = TrainingStep(
        name=TRAIN_STEP,
        step_args=trainer.train(
            input_data_config=[
                InputData(
                    channel_name=channel,
                    data_source=split_uri[channel].S3Output.S3Uri,
                    content_type=CONTENT_TYPE,
                )
                for channel in ("train", "validation")
            ]
        ),
    )
    model_data = train.properties.ModelArtifacts.S3ModelArtifacts

    report = PropertyFile(name="EvaluationReport", output_name="evaluation", path=REPORT_FILE)
    evaluate = ProcessingStep(
        name=EVALUATE_STEP,
        step_args=_processor(args, session, xgboost_image, "evaluate").run(
            code=args.evaluate_code_uri,
            inputs=[
                _input("model", model_data, "/opt/ml/processing/model"),
                _input("test", split_uri["test"].S3Output.S3Uri, "/opt/ml/processing/test"),
            ],
            outputs=[
                _output(
                    "evaluation", _run_output(args, "evaluation"), "/opt/ml/processing/evaluation"
                )
            ],
            arguments=["--baseline-auc", baseline_auc.to_string()],
        ),
        property_files=[report],
    )
    auc = JsonGet(step_name=EVALUATE_STEP, property_file=report, json_path=AUC_PATH)
    accuracy = JsonGet(step_name=EVALUATE_STEP, property_file=report, json_path=ACCURACY_PATH)
    auc_drop = JsonGet(step_name=EVALUATE_STEP, property_file=report, json_path=AUC_DROP_PATH)
    report_uri = Join(
        on="/",
        values=[
            evaluate.properties.ProcessingOutputConfig.Outputs["evaluation"].S3Output.S3Uri,
            REPORT_FILE,
        ],
    )

    register = ModelStep(
        name=REGISTER_STEP,
        step_args=ModelBuilder(
            image_uri=xgboost_image,
            s3_model_data_url=model_data,
            role_arn=args.role_arn,
            sagemaker_session=session,
            # Built-in algorithm: nothing to package beside the model, so nothing to upload.
            dependencies={},
        ).register(
            model_package_group_name=args.model_package_group,
            content_types=[CONTENT_TYPE],
            response_types=[CONTENT_TYPE],
            inference_instances=[args.processing_instance_type],
            transform_instances=[args.processing_instance_type],
            approval_status=APPROVAL_STATUS,
            model_metrics=ModelMetrics(
                model_statistics=MetricsSource(content_type="application/json", s3_uri=report_uri)
            ),
            customer_metadata_properties={
                "auc": auc.to_string(),
                "accuracy": accuracy.to_string(),
                "baseline_auc": baseline_auc.to_string(),
                "evaluation_report": report_uri,
                # The held-out split the model was evaluated on: the approval step releases it
                # beside the model (guardrails.release.record.PIPELINE_TEST_DATA).
                TEST_DATA_METADATA: Join(
                    on="/", values=[split_uri["test"].S3Output.S3Uri, TEST_DATA_FILE]
                ),
            },
        ),
    )
    gate_failed = FailStep(
        name=GATE_FAILED_STEP,
        error_message=Join(
            on=" ",
            values=[
                "Quality gate failed: AUC",
                auc,
                "(at least",
                min_auc,
                "), accuracy",
                accuracy,
                "(at least",
                min_accuracy,
                "), AUC drop against the approved model",
                auc_drop,
                "(at most",
                max_auc_drop,
                ").",
            ],
        ),
    )
    gate = ConditionStep(
        name=GATE_STEP,
        conditions=[
            ConditionGreaterThanOrEqualTo(left=auc, right=min_auc),
            ConditionGreaterThanOrEqualTo(left=accuracy, right=min_accuracy),
            ConditionLessThanOrEqualTo(left=auc_drop, right=max_auc_drop),
        ],
        if_steps=[register],
        else_steps=[gate_failed],
    )
    return Pipeline(
        name=args.pipeline_name,
        parameters=[input_data, baseline_auc, min_auc, min_accuracy, max_auc_drop],
        steps=[preprocess, train, evaluate, gate],
        sagemaker_session=session,
        pipeline_experiment_config=None,
    )


def _processor(
    args: PipelineArguments, session: PipelineSession, image_uri: str, purpose: str
) -> ScriptProcessor:
    return ScriptProcessor(
        role=args.role_arn,
        image_uri=image_uri,
        command=["python3"],
        instance_type=args.processing_instance_type,
        instance_count=1,
        volume_kms_key=args.kms_key_arn,
        output_kms_key=args.kms_key_arn,
        max_runtime_in_seconds=3600,
        base_job_name=f"guardrails-{purpose}",
        sagemaker_session=session,
    )


def _input(name: str, source: object, local_path: str) -> ProcessingInput:
    return ProcessingInput(
        input_name=name,
        s3_input=ProcessingS3Input(
            s3_uri=source, local_path=local_path, s3_data_type="S3Prefix", s3_input_mode="File"
        ),
    )


def _output(name: str, destination: object, local_path: str) -> ProcessingOutput:
    return ProcessingOutput(
        output_name=name,
        s3_output=ProcessingS3Output(
            s3_uri=destination, local_path=local_path, s3_upload_mode="EndOfJob"
        ),
    )
