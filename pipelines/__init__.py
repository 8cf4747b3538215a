"""The SageMaker Pipeline that preprocesses, trains, evaluates, gates and registers a model.

Importing this package is cheap (the SageMaker SDK loads only with pipelines.definition), so
the CDK code can share its constants.
"""

ARTIFACT_PREFIX = "model-pipeline"  # key prefix of everything the pipeline writes to the bucket
RUNS_PREFIX = f"{ARTIFACT_PREFIX}/runs"  # per-execution splits, models and evaluation reports
INPUTS_PREFIX = f"{ARTIFACT_PREFIX}/inputs"  # uploaded step scripts and sample data
