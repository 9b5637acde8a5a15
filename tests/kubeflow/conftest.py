"""The pipeline compiled for Kubeflow with the tiny e2e settings, once per session."""

from __future__ import annotations

import json
import os
import shutil
import subprocess

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


# Variables that change what the entry points do, besides the pipeline's options.
OTHER_VARIABLES = ("DOCKER_HOST", "KFP_BASE_IMAGE")


def clean_environ(**given: str) -> dict[str, str]:
    """This process's environment without any option variable the user may have exported,
    plus `given`: what a subprocess of a hermetic test sees."""
    options = {option.env for option in configs.OPTIONS.values()}
    kept = {k: v for k, v in os.environ.items()
            if k not in options and k not in OTHER_VARIABLES}
    return {**kept, **given}


@pytest.fixture(scope="session")
def docker_daemon(tmp_path_factory):
    """A client of this machine's Docker daemon: the one that answers, else one this session
    starts with scripts/dockerd.sh and stops by its PID at the end. Skipped, with the reason,
    only where Docker cannot run (not installed; no daemon and not root to start one)."""
    from kubeflow import image

    try:
        client = image.client()
    except image.DockerError:
        client = None
    if client is not None:
        yield client
        return
    if shutil.which("dockerd") is None:
        pytest.skip("Docker is not installed: scripts/setup_os.sh installs Debian's docker.io")
    if os.geteuid() != 0:
        pytest.skip("no Docker daemon answers, and starting one needs root")
    environ = {**os.environ, "DOCKERD_STATE": str(tmp_path_factory.mktemp("dockerd"))}
    script = ["bash", str(configs.PROJECT_ROOT / "scripts" / "dockerd.sh")]
    subprocess.run([*script, "start"], env=environ, check=True)
    try:
        yield image.client()
    finally:
        subprocess.run([*script, "stop"], env=environ, check=True)
