"""Tiny Examples, Schema and Model artifacts for the trainer components' tests."""

from __future__ import annotations

import pytest
from tfx.types import standard_artifacts

from tests.components.support import (
    write_anomalies,
    write_base_model,
    write_examples,
    write_schema,
)


@pytest.fixture(scope="session")
def tiny_inputs(tmp_path_factory) -> tuple[standard_artifacts.Examples, standard_artifacts.Schema]:
    root = tmp_path_factory.mktemp("tiny_inputs")
    return write_examples(root), write_schema(root)


@pytest.fixture(scope="session")
def clean_anomalies(tmp_path_factory) -> standard_artifacts.ExampleAnomalies:
    """What the ExampleValidator writes for tiny_inputs: no anomalies in either split."""
    return write_anomalies(str(tmp_path_factory.mktemp("anomalies")))


@pytest.fixture(scope="session")
def tiny_base_model(tmp_path_factory) -> standard_artifacts.Model:
    return write_base_model(tmp_path_factory.mktemp("base_model"))
