"""Shared fixtures (the `tests` package puts Keras 2 in force before this loads)."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

import pytest

from tests.support import (
    IN_PROCESS_BEAM_ARGS,
    MNIST_FILES,
    clear_option_variables,
    manual_dir_or_skip,
)


def pytest_configure(config) -> None:
    """Before any fixture or test: the user's option variables leave this process (and so every
    subprocess a test starts), and the report's header says which were set."""
    config.cleared_option_variables = clear_option_variables()


def pytest_report_header(config) -> str:
    cleared = getattr(config, "cleared_option_variables", {})
    return ("option variables cleared for the tests: " + (", ".join(cleared) or "none"))


@pytest.fixture
def placeholder_manual_dir(tmp_path: Path) -> str:
    """A manual_dir with the four file names present (content is irrelevant under mock_data)."""
    manual = tmp_path / "manual"
    manual.mkdir()
    for name in MNIST_FILES:
        (manual / name).write_bytes(b"")
    return str(manual)


@pytest.fixture(scope="session")
def mnist_manual_dir() -> Path:
    return manual_dir_or_skip("mnist")


@pytest.fixture(scope="session")
def fashion_mnist_manual_dir() -> Path:
    return manual_dir_or_skip("fashion_mnist")


@pytest.fixture(scope="session")
def prepared_data_dir(mnist_manual_dir: Path, fashion_mnist_manual_dir: Path,
                      tmp_path_factory) -> str:
    """One TFDS data_dir with MNIST, then Fashion-MNIST, prepared from the real files, once per
    test session (the first worker to need it prepares it, the others wait and share it): the
    order in which the second dataset once got the first one's images."""
    from components.tfds_example_gen import tfds_source

    shared = session_root(tmp_path_factory)
    data_dir = shared / "tfds_data"
    with open(shared / "tfds_data.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (shared / "tfds_data.done").exists():
            tfds_source.prepare_dataset("mnist", str(data_dir), str(mnist_manual_dir))
            tfds_source.prepare_dataset("fashion_mnist", str(data_dir),
                                        str(fashion_mnist_manual_dir))
            (shared / "tfds_data.done").touch()
    return str(data_dir)


def session_root(tmp_path_factory) -> Path:
    """A directory every worker of this test session shares (pytest-xdist gives each worker its
    own base temporary directory, under this one)."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


# Test modules that share a session fixture too costly, or too stateful, to have it twice: each
# group runs on one pytest-xdist worker, every other test goes to whichever worker is free.
SHARED_FIXTURE_GROUPS = {
    "tests/kubeflow/": "docker",  # one Docker daemon (stopped by the worker that started it),
    # the image and the kfp.local run
    "tests/pipelines/test_pipeline_e2e.py": "gated_runs",  # three whole pipelines
    "tests/pipelines/test_lineage.py": "gated_runs",
    "tests/integration/test_real_mnist.py": "cli_run",  # the tfx CLI's run
}


def shared_fixture_group(nodeid: str) -> str:
    """The scheduling unit of a test: its module's group, else the test alone."""
    for prefix, group in SHARED_FIXTURE_GROUPS.items():
        if nodeid.startswith(prefix):
            return group
    return nodeid


def pytest_xdist_make_scheduler(config, log):
    """With `-n` and the default `--dist load`: xdist's scope scheduling over
    SHARED_FIXTURE_GROUPS. (xdist's own `loadgroup` marks do not group under pytest 9: it renames
    node ids through an attribute pytest 9 no longer reads.)"""
    if config.getvalue("dist") != "load":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class SharedFixtureScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return shared_fixture_group(nodeid)

    return SharedFixtureScheduling(config, log)


@pytest.fixture
def run_example_gen(tmp_path):
    """Runs the executor with a component's exec_properties; returns the Examples artifact."""
    counter = iter(range(1_000))

    # TFX here, not at the module's top: the tests that need no TensorFlow do not load it.
    from tfx.dsl.components.base.base_beam_executor import BaseBeamExecutor
    from tfx.types import standard_artifacts

    from components.tfds_example_gen.component import TfdsExampleGen
    from components.tfds_example_gen.executor import Executor

    def run(beam_args=IN_PROCESS_BEAM_ARGS, **component_args):
        component = TfdsExampleGen(**component_args)
        examples = standard_artifacts.Examples()
        examples.uri = str(tmp_path / f"examples_{next(counter)}")
        context = BaseBeamExecutor.Context(beam_pipeline_args=beam_args, tmp_dir=str(tmp_path))
        Executor(context).Do({}, {"examples": [examples]}, dict(component.exec_properties))
        return examples

    return run


@pytest.fixture(scope="session")
def mariadb(tmp_path_factory):
    """A real MariaDB server for this test session (tests/mariadb.py); skipped, with the reason,
    only where its programs are not installed (scripts/setup_os.sh installs them)."""
    from tests import mariadb as server_control

    missing = server_control.missing_binaries()
    if missing:
        pytest.skip(f"MariaDB not installed ({', '.join(missing)} missing): run "
                    "scripts/setup_os.sh, which installs Debian's mariadb-server")
    server = server_control.start_server(tmp_path_factory.mktemp("mariadb"))
    try:
        yield server
    finally:
        server.stop()
