"""The prod rollout stack's template and its state machine's states, built once."""

from __future__ import annotations

import pytest
from aws_cdk.assertions import Template

from tests.infra.conftest import state_machine_definition


@pytest.fixture(scope="module")
def prod(template_of) -> Template:
    return template_of("prod", "rollout")


@pytest.fixture(scope="module")
def states(prod) -> dict:
    return state_machine_definition(prod)["States"]
