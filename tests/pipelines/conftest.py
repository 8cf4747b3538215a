"""The SageMaker SDK's own import-time deprecation shims and session notices are not ours."""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("filterwarnings", r"ignore::DeprecationWarning:sagemaker\.")
    config.addinivalue_line("filterwarnings", "ignore:Running within a PipelineSession:UserWarning")
