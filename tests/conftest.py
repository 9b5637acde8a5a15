"""Shared fixtures (the `tests` package puts Keras 2 in force before this loads)."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from tfx.dsl.components.base.base_beam_executor import BaseBeamExecutor
from tfx.types import standard_artifacts

from components.tfds_example_gen.component import TfdsExampleGen
from components.tfds_example_gen.executor import Executor
from pipelines import configs

MNIST_FILES = (
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
)
# In-process Beam: TFDS's mock_data patches live in this process only.
IN_PROCESS_BEAM_ARGS = ["--runner=DirectRunner", "--direct_running_mode=in_memory"]


@pytest.fixture
def placeholder_manual_dir(tmp_path: Path) -> str:
    """A manual_dir with the four file names present (content is irrelevant under mock_data)."""
    manual = tmp_path / "manual"
    manual.mkdir()
    for name in MNIST_FILES:
        (manual / name).write_bytes(b"")
    return str(manual)


def real_data_dir(dataset: str) -> Path | None:
    """The dataset's four original files: ../shared/data/<dataset> (for MNIST, TFDS_MANUAL_DIR
    first), if they are all there."""
    default = configs.SHARED_DATA_DIR / dataset
    env = os.environ.get("TFDS_MANUAL_DIR") if dataset == "mnist" else None
    candidate = Path(env or default)
    return candidate if all((candidate / n).is_file() for n in MNIST_FILES) else None


def _manual_dir_or_skip(dataset: str) -> Path:
    found = real_data_dir(dataset)
    if found is None:
        pytest.skip(f"real {dataset} files not found in ../shared/data/{dataset}"
                    + (" or TFDS_MANUAL_DIR" if dataset == "mnist" else ""))
    return found


@pytest.fixture(scope="session")
def mnist_manual_dir() -> Path:
    return _manual_dir_or_skip("mnist")


@pytest.fixture(scope="session")
def fashion_mnist_manual_dir() -> Path:
    return _manual_dir_or_skip("fashion_mnist")


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


def idx_arrays(manual_dir: Path, prefix: str) -> tuple[np.ndarray, np.ndarray]:
    """(images [N, 784] uint8, labels [N]) of an original IDX file pair, parsed with numpy alone:
    a second code path, independent of TFDS, to check what the pipeline wrote."""
    with gzip.open(manual_dir / f"{prefix}-images-idx3-ubyte.gz") as f:
        images = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 28 * 28)
    with gzip.open(manual_dir / f"{prefix}-labels-idx1-ubyte.gz") as f:
        labels = np.frombuffer(f.read(), np.uint8, offset=8)
    return images, labels


def read_split(examples: standard_artifacts.Examples, split: str) -> list[tf.train.Example]:
    files = sorted(tf.io.gfile.glob(os.path.join(examples.uri, f"Split-{split}", "*")))
    dataset = tf.data.TFRecordDataset(files, compression_type="GZIP")
    return [tf.train.Example.FromString(record) for record in dataset.as_numpy_iterator()]


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
