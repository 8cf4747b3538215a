"""The Train stage: upsert the SageMaker Pipeline, start it, wait, and hand the result on.

Used by pipelines/buildspec-train.yml; every account-specific value arrives as an argument the
buildspec fills from environment variables CDK sets on the CodeBuild project. Steps:

1. look up the AUC of the newest Approved package in the group (the baseline; 0 when none),
2. upload preprocess.py, evaluate.py and (unless --input-data-url is given) the sample data,
3. upsert the pipeline definition and start an execution with the baseline as a parameter,
4. wait for it; a failed quality gate fails this build with the gate's own message,
5. write the registered package and its metrics to --output-dir: `candidate.json` (kept with
   the pipeline execution's artifacts) and `exported.env`, the CodeBuild exported variables the
   approval stage shows to approvers and the deploy stages hand to the guarded rollouts.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shlex
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import quote, urlparse

import boto3
from botocore.exceptions import ClientError

from pipelines import INPUTS_PREFIX, definition

PIPELINES_DIR = Path(__file__).resolve().parent
CODE_FILES = ("preprocess.py", "evaluate.py")
SAMPLE_DATA = PIPELINES_DIR / "data" / "sample.csv"
TERMINAL_STATUSES = ("Succeeded", "Failed", "Stopped")
# The names buildspec-train.yml exports to CodePipeline; tests/pipelines checks they agree.
EXPORTED_VARIABLES = (
    "MODEL_PACKAGE_ARN",
    "CANDIDATE_AUC",
    "CANDIDATE_ACCURACY",
    "BASELINE_AUC",
    "EVALUATION_REPORT_URL",
    "PIPELINE_EXECUTION_ARN",
)
CANDIDATE_FILE = "candidate.json"
EXPORTS_FILE = "exported.env"


class RunError(RuntimeError):
    """The Train stage cannot go on; the message says why in one line."""


@dataclass(frozen=True, kw_only=True)
class Baseline:
    """The approved model a candidate is compared with."""

    auc: float = 0.0  # 0 when no package is approved yet
    model_package_arn: str = ""


@dataclass(frozen=True, kw_only=True)
class Candidate:
    """A registered model package awaiting approval, with the numbers behind it."""

    model_package_arn: str
    auc: float
    accuracy: float
    baseline: Baseline
    evaluation_report_uri: str
    pipeline_execution_arn: str


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        print(f"run: {message}", file=sys.stderr)
        raise SystemExit(2)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Command-line arguments; a missing or malformed one exits with a one-line message."""
    parser = _Parser(description="Run the model-build pipeline and report what it registered.")
    required = {
        "--pipeline-name": str,
        "--region": str,
        "--role-arn": str,
        "--bucket": str,
        "--kms-key-arn": str,
        "--model-package-group": str,
        "--min-auc": float,
        "--min-accuracy": float,
        "--max-auc-drop": float,
        "--processing-instance-type": str,
        "--training-instance-type": str,
        "--output-dir": Path,
    }
    for flag, kind in required.items():
        parser.add_argument(flag, type=kind, required=True)
    parser.add_argument("--input-data-url", default="", help="s3:// URI of the raw CSV data")
    parser.add_argument("--source-version", default="", help="commit the build runs on")
    parser.add_argument("--timeout-minutes", type=int, default=180)
    parser.add_argument("--poll-seconds", type=int, default=30)
    return parser.parse_args(argv)


def find_baseline(sagemaker: Any, s3: Any, group: str) -> Baseline:
    """The newest Approved package of the group and its AUC; Baseline() when none is approved."""
    response = sagemaker.list_model_packages(
        ModelPackageGroupName=group,
        ModelApprovalStatus="Approved",
        SortBy="CreationTime",
        SortOrder="Descending",
        MaxResults=1,
    )
    summaries = response.get("ModelPackageSummaryList", [])
    if not summaries:
        return Baseline()
    arn = summaries[0]["ModelPackageArn"]
    package = sagemaker.describe_model_package(ModelPackageName=arn)
    return Baseline(auc=_recorded_auc(s3, package), model_package_arn=arn)


def _recorded_auc(s3: Any, package: Mapping[str, Any]) -> float:
    """The AUC the pipeline recorded on a package: its metadata, else its evaluation report."""
    arn = package["ModelPackageArn"]
    text = package.get("CustomerMetadataProperties", {}).get("auc")
    if text is None:
        statistics = package.get("ModelMetrics", {}).get("ModelQuality", {}).get("Statistics", {})
        uri = statistics.get("S3Uri")
        if not uri:
            raise RunError(
                f"approved package {arn} records no AUC (no 'auc' metadata, no model quality "
                "report), so a new model cannot be compared with it; reject it or add its metrics"
            )
        report = json.loads(_read_s3(s3, uri))
        text = report.get("binary_classification_metrics", {}).get("auc", {}).get("value")
    try:
        auc = float(text)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise RunError(f"approved package {arn}: recorded AUC {text!r} is not a number") from None
    if not 0 <= auc <= 1:
        raise RunError(f"approved package {arn}: recorded AUC {auc} is outside 0-1")
    return auc


def _read_s3(s3: Any, uri: str) -> bytes:
    parsed = urlparse(uri)
    try:
        body: bytes = s3.get_object(Bucket=parsed.netloc, Key=parsed.path.lstrip("/"))[
            "Body"
        ].read()
    except ClientError as error:
        raise RunError(f"cannot read {uri}: {error.response['Error']['Code']}") from None
    return body


def upload_inputs(
    s3: Any, *, bucket: str, prefix: str, kms_key_arn: str, input_data_url: str
) -> dict[str, str]:
    """Upload the step scripts (and the sample data unless data is given); their s3:// URIs."""
    uris = {}
    files = [PIPELINES_DIR / name for name in CODE_FILES]
    if not input_data_url:
        files.append(SAMPLE_DATA)
    for path in files:
        body = path.read_bytes()
        # Content-addressed keys: a rerun of the same commit reuses the same objects.
        key = f"{prefix}/{hashlib.sha256(body).hexdigest()[:16]}/{path.name}"
        s3.put_object(
            Bucket=bucket,
            Key=key,
            Body=body,
            ServerSideEncryption="aws:kms",
            SSEKMSKeyId=kms_key_arn,
        )
        uris[path.name] = f"s3://{bucket}/{key}"
    uris["data"] = input_data_url or uris[SAMPLE_DATA.name]
    return uris


def upsert_pipeline(
    sagemaker: Any, *, name: str, definition_json: str, role_arn: str, description: str
) -> None:
    """Create the SageMaker Pipeline, or update it when it exists."""
    request = {
        "PipelineName": name,
        "PipelineDefinition": definition_json,
        "RoleArn": role_arn,
        "PipelineDescription": description,
    }
    try:
        sagemaker.describe_pipeline(PipelineName=name)
    except ClientError as error:
        if not _not_found(error):
            raise
        sagemaker.create_pipeline(**request)
    else:
        sagemaker.update_pipeline(**request)


def _not_found(error: ClientError) -> bool:
    details = error.response.get("Error", {})
    message = str(details.get("Message", ""))
    return details.get("Code") == "ResourceNotFound" or (
        details.get("Code") == "ValidationException"
        and ("Could not find" in message or "does not exist" in message)
    )


def start_execution(
    sagemaker: Any, *, name: str, parameters: Mapping[str, str | float], display_name: str
) -> str:
    """Start an execution with these parameter values; its ARN."""
    response = sagemaker.start_pipeline_execution(
        PipelineName=name,
        PipelineExecutionDisplayName=display_name,
        PipelineParameters=[{"Name": k, "Value": str(v)} for k, v in parameters.items()],
    )
    arn: str = response["PipelineExecutionArn"]
    return arn


def wait_for_execution(
    sagemaker: Any,
    execution_arn: str,
    *,
    timeout_seconds: float,
    poll_seconds: float,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> None:
    """Return when the execution succeeded; RunError with SageMaker's reason otherwise."""
    deadline = clock() + timeout_seconds
    while True:
        response = sagemaker.describe_pipeline_execution(PipelineExecutionArn=execution_arn)
        status = response["PipelineExecutionStatus"]
        if status == "Succeeded":
            return
        if status in TERMINAL_STATUSES:
            reason = _failure_reason(sagemaker, execution_arn) or response.get(
                "FailureReason", "no reason given"
            )
            raise RunError(f"pipeline execution {status.lower()}: {reason}")
        if clock() >= deadline:
            sagemaker.stop_pipeline_execution(PipelineExecutionArn=execution_arn)
            raise RunError(
                f"pipeline execution still {status} after {timeout_seconds / 60:.0f} minutes; "
                "stopped it"
            )
        sleep(poll_seconds)


def _steps(sagemaker: Any, execution_arn: str) -> list[dict[str, Any]]:
    steps: list[dict[str, Any]] = []
    token = None
    while True:
        request: dict[str, Any] = {"PipelineExecutionArn": execution_arn}
        if token:
            request["NextToken"] = token
        response = sagemaker.list_pipeline_execution_steps(**request)
        steps.extend(response.get("PipelineExecutionSteps", []))
        token = response.get("NextToken")
        if not token:
            return steps


def _failure_reason(sagemaker: Any, execution_arn: str) -> str:
    """The quality gate's message when it failed the run, else the first failed step's reason."""
    steps = _steps(sagemaker, execution_arn)
    for step in steps:
        if step.get("StepName") == definition.GATE_FAILED_STEP:
            message: str = step.get("Metadata", {}).get("Fail", {}).get("ErrorMessage", "")
            return message or step.get("FailureReason", "")
    for step in steps:
        if step.get("StepStatus") == "Failed":
            return f"step {step.get('StepName')} failed: {step.get('FailureReason', '')}"
    return ""


def registered_candidate(sagemaker: Any, execution_arn: str, baseline: Baseline) -> Candidate:
    """The package the execution registered, with the metrics the pipeline recorded on it."""
    arn = ""
    for step in _steps(sagemaker, execution_arn):
        if step.get("StepName") == definition.REGISTER_STEP:
            arn = step.get("Metadata", {}).get("RegisterModel", {}).get("Arn", "")
    if not arn:
        raise RunError(f"execution {execution_arn} succeeded but registered no model package")
    package = sagemaker.describe_model_package(ModelPackageName=arn)
    if package.get("ModelApprovalStatus") != definition.APPROVAL_STATUS:
        raise RunError(
            f"{arn} is {package.get('ModelApprovalStatus')}, expected "
            f"{definition.APPROVAL_STATUS}: only the approval stage may approve a package"
        )
    metadata = package.get("CustomerMetadataProperties", {})
    try:
        auc, accuracy = float(metadata["auc"]), float(metadata["accuracy"])
    except (KeyError, ValueError):
        raise RunError(f"{arn} carries no numeric auc/accuracy metadata") from None
    return Candidate(
        model_package_arn=arn,
        auc=auc,
        accuracy=accuracy,
        baseline=baseline,
        evaluation_report_uri=metadata.get("evaluation_report", ""),
        pipeline_execution_arn=execution_arn,
    )


def report_link(uri: str, region: str) -> str:
    """An S3 console link to an s3:// object, for the approver."""
    if not uri.startswith("s3://"):
        return ""
    parsed = urlparse(uri)
    return (
        f"https://s3.console.aws.amazon.com/s3/object/{parsed.netloc}"
        f"?region={region}&prefix={quote(parsed.path.lstrip('/'))}"
    )


def write_outputs(output_dir: Path, candidate: Candidate, *, region: str) -> dict[str, str]:
    """The files later stages read; returns the exported variables."""
    output_dir.mkdir(parents=True, exist_ok=True)
    summary = {
        "model_package_arn": candidate.model_package_arn,
        "metrics": {"auc": candidate.auc, "accuracy": candidate.accuracy},
        "baseline": {
            "auc": candidate.baseline.auc,
            "model_package_arn": candidate.baseline.model_package_arn,
        },
        "evaluation_report": candidate.evaluation_report_uri,
        "pipeline_execution_arn": candidate.pipeline_execution_arn,
    }
    (output_dir / CANDIDATE_FILE).write_text(json.dumps(summary, indent=2))
    exported = {
        "MODEL_PACKAGE_ARN": candidate.model_package_arn,
        "CANDIDATE_AUC": f"{candidate.auc:.4f}",
        "CANDIDATE_ACCURACY": f"{candidate.accuracy:.4f}",
        "BASELINE_AUC": (
            f"{candidate.baseline.auc:.4f}" if candidate.baseline.model_package_arn else "none"
        ),
        "EVALUATION_REPORT_URL": report_link(candidate.evaluation_report_uri, region),
        "PIPELINE_EXECUTION_ARN": candidate.pipeline_execution_arn,
    }
    lines = [f"export {name}={shlex.quote(value)}" for name, value in exported.items()]
    (output_dir / EXPORTS_FILE).write_text("\n".join(lines) + "\n")
    return exported


def run(args: argparse.Namespace, *, sagemaker: Any, s3: Any) -> Candidate:
    """Everything the Train stage does; RunError when it must stop."""
    baseline = find_baseline(sagemaker, s3, args.model_package_group)
    print(f"run: baseline AUC {baseline.auc} ({baseline.model_package_arn or 'none approved'})")
    uris = upload_inputs(
        s3,
        bucket=args.bucket,
        prefix=INPUTS_PREFIX,
        kms_key_arn=args.kms_key_arn,
        input_data_url=args.input_data_url,
    )
    try:
        pipeline_args = definition.PipelineArguments(
            pipeline_name=args.pipeline_name,
            region=args.region,
            role_arn=args.role_arn,
            bucket=args.bucket,
            kms_key_arn=args.kms_key_arn,
            model_package_group=args.model_package_group,
            preprocess_code_uri=uris["preprocess.py"],
            evaluate_code_uri=uris["evaluate.py"],
            input_data_url=uris["data"],
            min_auc=args.min_auc,
            min_accuracy=args.min_accuracy,
            max_auc_drop=args.max_auc_drop,
            processing_instance_type=args.processing_instance_type,
            training_instance_type=args.training_instance_type,
        )
    except ValueError as error:
        raise RunError(str(error)) from None
    upsert_pipeline(
        sagemaker,
        name=args.pipeline_name,
        definition_json=definition.build_definition(pipeline_args),
        role_arn=args.role_arn,
        description="Guardrails model build: preprocess, train, evaluate, gate, register",
    )
    execution_arn = start_execution(
        sagemaker,
        name=args.pipeline_name,
        parameters={definition.BASELINE_AUC_PARAMETER: baseline.auc},
        display_name=f"commit-{args.source_version[:12] or 'manual'}",
    )
    print(f"run: started {execution_arn}")
    wait_for_execution(
        sagemaker,
        execution_arn,
        timeout_seconds=args.timeout_minutes * 60,
        poll_seconds=args.poll_seconds,
    )
    candidate = registered_candidate(sagemaker, execution_arn, baseline)
    write_outputs(args.output_dir, candidate, region=args.region)
    print(
        f"run: registered {candidate.model_package_arn} (AUC {candidate.auc}, accuracy "
        f"{candidate.accuracy}); awaiting approval"
    )
    return candidate


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    session = boto3.Session(region_name=args.region)
    try:
        run(args, sagemaker=session.client("sagemaker"), s3=session.client("s3"))
    except RunError as error:
        print(f"run: {error}", file=sys.stderr)
        return 1
    except ClientError as error:
        details = error.response.get("Error", {})
        print(
            f"run: {error.operation_name} failed: {details.get('Code')}: {details.get('Message')}",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
