"""The pipeline compiled for Kubeflow with the tiny e2e settings, once per session."""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest

from kubeflow import runner
from pipelines import configs
from tests.kubeflow.support import (
    kfp_config,
)


@pytest.fixture(scope="session")
def compiled(tmp_path_factory) -> dict:
    """The PipelineJob JSON that `make kfp-compile` writes."""
    path = runner.compile_pipeline(kfp_config(), tmp_path_factory.mktemp("kfp"))
    with open(path) as f:
        return json.load(f)


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
