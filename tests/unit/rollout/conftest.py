"""Fixtures shared by the rollout tests."""

from __future__ import annotations

import pytest
from moto import mock_aws


@pytest.fixture
def aws():
    """Every AWS call of the test goes to moto."""
    with mock_aws():
        yield
