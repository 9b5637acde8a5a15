"""Shared fixtures (the `tests` package puts Keras 2 in force before this loads)."""

from __future__ import annotations

from pathlib import Path

import pytest
from tfx.dsl.components.base.base_beam_executor import BaseBeamExecutor
from tfx.types import standard_artifacts

from components.tfds_example_gen.component import TfdsExampleGen
from components.tfds_example_gen.executor import Executor
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
    test session: the order in which the second dataset once got the first one's images."""
    from components.tfds_example_gen import tfds_source

    data_dir = str(tmp_path_factory.mktemp("tfds_data"))
    tfds_source.prepare_dataset("mnist", data_dir, str(mnist_manual_dir))
    tfds_source.prepare_dataset("fashion_mnist", data_dir, str(fashion_mnist_manual_dir))
    return data_dir


@pytest.fixture
def run_example_gen(tmp_path):
    """Runs the executor with a component's exec_properties; returns the Examples artifact."""
    counter = iter(range(1_000))

    def run(beam_args=IN_PROCESS_BEAM_ARGS, **component_args) -> standard_artifacts.Examples:
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
