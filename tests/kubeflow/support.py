"""Helpers and constants the tests of tests/kubeflow/ share (their fixtures: conftest.py)."""

from __future__ import annotations

import os

from pipelines import configs
from tests.pipelines.support import TINY_TRAINING
from tests.support import OPTION_VARIABLES

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


def clean_environ(**given: str) -> dict[str, str]:
    """This process's environment without option variables or the Docker daemon's address,
    plus `given`: what a subprocess of a test about those variables sees."""
    kept = {k: v for k, v in os.environ.items()
            if k not in OPTION_VARIABLES and k != "DOCKER_HOST"}
    return {**kept, **given}
