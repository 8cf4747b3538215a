"""cdk.json sets every feature flag the pinned aws-cdk-lib recommends; pinned ones say why."""

from __future__ import annotations

import json
import tarfile
from importlib import metadata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CDK_JSON = ROOT / "cdk.json"
FEATURE_FLAGS_DOC = ROOT / "docs" / "feature-flags.md"

# Flags kept on another value than the recommended one; docs/feature-flags.md says why.
PINNED = {"@aws-cdk/core:defaultCrossStackReferences": "strong"}


def recommended_flags() -> dict[str, object]:
    """What `cdk init` writes: the list shipped inside the installed aws-cdk-lib (no jsii start)."""
    bundle = next(f for f in metadata.files("aws-cdk-lib") or [] if f.name.endswith(".jsii.tgz"))
    with tarfile.open(bundle.locate()) as archive:
        member = archive.extractfile("package/recommended-feature-flags.json")
        assert member is not None
        return dict(json.load(member))


@pytest.fixture(scope="module")
def recommended() -> dict[str, object]:
    return recommended_flags()


@pytest.fixture(scope="module")
def context() -> dict[str, object]:
    return dict(json.loads(CDK_JSON.read_text())["context"])


def test_the_recommended_list_is_the_pinned_libraries(recommended):
    pinned = (ROOT / "requirements.txt").read_text()
    assert f"aws-cdk-lib=={metadata.version('aws-cdk-lib')}" in pinned
    assert len(recommended) > 80  # 89 in 2.275.0: a short list means the wrong file was read


def test_cdk_json_sets_every_recommended_flag(recommended, context):
    missing = sorted(set(recommended) - set(context))
    assert missing == [], f"add to cdk.json (cdk flags --unstable=flags): {missing}"


def test_every_flag_has_the_recommended_value_unless_pinned(recommended, context):
    differ = {
        flag: context[flag]
        for flag, value in recommended.items()
        if flag in context and context[flag] != value
    }
    assert differ == PINNED


@pytest.mark.parametrize("flag", sorted(PINNED))
def test_each_pinned_flag_is_explained(flag):
    doc = FEATURE_FLAGS_DOC.read_text()
    assert f"`{flag}`" in doc
    assert f'"{PINNED[flag]}"' in doc


def test_stack_tags_survive_explicit_stack_tags(shipped_stacks):
    """With explicitStackTags, Tags.of() no longer tags the stack: tag() sets them explicitly."""
    stateful = shipped_stacks["prod"].stateful
    assembly = stateful.node.root.synth()
    assert assembly.get_stack_by_name(stateful.stack_name).tags == {
        "project": "sagemaker-deployment-guardrails",
        "environment": "prod",
    }
