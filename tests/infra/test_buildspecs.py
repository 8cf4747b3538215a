"""Buildspecs reference only environment variables their CodeBuild project defines.

A typo in a buildspec variable would otherwise reach CodeBuild as an empty string. Every
`$NAME` / `${NAME}` in a buildspec's commands must be set by the project (from the synthesized
template), by the buildspec itself, or be one of CodeBuild's documented variables.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.infra.test_pipeline_stack import shipped_pipeline

pytestmark = pytest.mark.xdist_group("pipeline")

ROOT = Path(__file__).resolve().parents[2]
# https://docs.aws.amazon.com/codebuild/latest/userguide/build-env-ref-env-vars.html
CODEBUILD_VARIABLES = {
    "AWS_DEFAULT_REGION",
    "AWS_REGION",
    "CODEBUILD_BATCH_BUILD_IDENTIFIER",
    "CODEBUILD_BUILD_ARN",
    "CODEBUILD_BUILD_ID",
    "CODEBUILD_BUILD_IMAGE",
    "CODEBUILD_BUILD_NUMBER",
    "CODEBUILD_BUILD_SUCCEEDING",
    "CODEBUILD_INITIATOR",
    "CODEBUILD_KMS_KEY_ID",
    "CODEBUILD_LOG_PATH",
    "CODEBUILD_PUBLIC_BUILD_URL",
    "CODEBUILD_RESOLVED_SOURCE_VERSION",
    "CODEBUILD_SOURCE_REPO_URL",
    "CODEBUILD_SOURCE_VERSION",
    "CODEBUILD_SRC_DIR",
    "CODEBUILD_START_TIME",
    "HOME",
    "PATH",
}
_REFERENCE = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)[^}]*\}|([A-Za-z_][A-Za-z0-9_]*))")
_ASSIGNMENT = re.compile(r"(?:^|[;&|]\s*|\bexport\s+)([A-Za-z_][A-Za-z0-9_]*)=")


def _commands(node: Any) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, list):
        for item in node:
            yield from _commands(item)
    elif isinstance(node, dict):
        for value in node.values():
            yield from _commands(value)


def undefined_variables(buildspec_text: str, project_variables: set[str]) -> set[str]:
    """Variables the buildspec's commands use that nothing defines."""
    buildspec = yaml.safe_load(buildspec_text)
    env = buildspec.get("env", {}) or {}
    defined = set(project_variables) | CODEBUILD_VARIABLES
    defined |= set((env.get("variables") or {}).keys())
    defined |= set((env.get("parameter-store") or {}).keys())
    defined |= set((env.get("secrets-manager") or {}).keys())
    commands = list(_commands(buildspec.get("phases", {})))
    for command in commands:
        defined |= set(_ASSIGNMENT.findall(command))
    used = {
        braced or plain for command in commands for braced, plain in _REFERENCE.findall(command)
    }
    return used - defined


def projects() -> dict[str, set[str]]:
    """Buildspec file -> the environment variables its CodeBuild project sets."""
    _, template = shipped_pipeline()
    found = {}
    for project in template.find_resources("AWS::CodeBuild::Project").values():
        properties = project["Properties"]
        variables = properties["Environment"].get("EnvironmentVariables", [])
        found[properties["Source"]["BuildSpec"]] = {v["Name"] for v in variables}
    return found


def test_every_project_buildspec_exists_in_the_repository():
    for buildspec in projects():
        assert (ROOT / buildspec).is_file(), buildspec


@pytest.mark.parametrize("buildspec", ["buildspec.yml", "pipelines/buildspec-train.yml"])
def test_buildspecs_use_only_defined_variables(buildspec):
    variables = projects()[buildspec]
    assert undefined_variables((ROOT / buildspec).read_text(), variables) == set()


def test_the_train_buildspec_really_uses_the_projects_variables():
    # Guards the check above from passing vacuously.
    text = (ROOT / "pipelines/buildspec-train.yml").read_text()
    used = undefined_variables(text, set())
    assert {"ARTIFACT_BUCKET", "SAGEMAKER_ROLE_ARN", "MODEL_PACKAGE_GROUP"} <= used
    assert used <= projects()["pipelines/buildspec-train.yml"]


def test_a_typo_is_caught():
    buildspec = """
version: 0.2
env:
  variables:
    LOCAL_SETTING: "1"
phases:
  build:
    commands:
      - export OUTPUT=out && echo "$OUTPUT $LOCAL_SETTING $CODEBUILD_SRC_DIR"
      - python -m pipelines.run --bucket "${ARTIFACT_BUCKT}" --key "$KMS_KEY_ARN"
      - echo "${CODEBUILD_SRC_DIRR:-default}"
"""
    assert undefined_variables(buildspec, {"ARTIFACT_BUCKET", "KMS_KEY_ARN"}) == {
        "ARTIFACT_BUCKT",
        "CODEBUILD_SRC_DIRR",
    }


def test_no_buildspec_names_an_account_bucket_or_arn():
    for buildspec in projects():
        text = (ROOT / buildspec).read_text()
        assert not re.search(r"\b\d{12}\b", text), buildspec
        assert "arn:aws" not in text, buildspec
        assert "s3://" not in text, buildspec
