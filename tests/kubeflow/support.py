"""Helpers and constants the tests of tests/kubeflow/ share (their fixtures: conftest.py)."""

from __future__ import annotations

import os

from pipelines import configs
from tests.pipelines.support import TINY_TRAINING

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


# Variables that change what the entry points do, besides the pipeline's options.
OTHER_VARIABLES = ("DOCKER_HOST", "KFP_BASE_IMAGE")


def clean_environ(**given: str) -> dict[str, str]:
    """This process's environment without any option variable the user may have exported,
    plus `given`: what a subprocess of a hermetic test sees."""
    options = {option.env for option in configs.OPTIONS.values()}
    kept = {k: v for k, v in os.environ.items()
            if k not in options and k not in OTHER_VARIABLES}
    return {**kept, **given}
