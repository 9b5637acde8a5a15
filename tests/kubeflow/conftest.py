"""The pipeline compiled for Kubeflow with the tiny e2e settings, once per session."""

from __future__ import annotations

import json

import pytest

from kubeflow import runner
from pipelines import configs
from tests.pipelines.conftest import TINY_TRAINING

BUCKET = "gs://test-bucket"
IMAGE = "registry.example.com/tfx-pruning-pipeline:test"
REMOTE = {
    "PIPELINE_NAME": "mnist-pruning",
    "PIPELINE_ROOT": f"{BUCKET}/root",
    "TFDS_DATA_DIR": f"{BUCKET}/tfds",
    "TFDS_MANUAL_DIR": f"{BUCKET}/manual/mnist",
    "SERVING_MODEL_DIR": f"{BUCKET}/serving",
    "KFP_IMAGE": IMAGE,
}


def kfp_config(**overrides) -> configs.PipelineConfig:
    return configs.load_config([], environ={**TINY_TRAINING, **REMOTE, **overrides})


@pytest.fixture(scope="session")
def compiled(tmp_path_factory) -> dict:
    """The PipelineJob JSON that `make kfp-compile` writes."""
    path = runner.compile_pipeline(kfp_config(), tmp_path_factory.mktemp("kfp"))
    with open(path) as f:
        return json.load(f)
