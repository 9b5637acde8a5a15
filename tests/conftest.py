"""Shared fixtures (the `tests` package puts Keras 2 in force before this loads)."""

from __future__ import annotations

import glob
import os
from pathlib import Path

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


def real_mnist_dir() -> Path | None:
    """TFDS_MANUAL_DIR, else ../shared/data/mnist, if it holds the four files."""
    candidate = Path(os.environ.get("TFDS_MANUAL_DIR") or configs.SHARED_DATA_DIR / "mnist")
    return candidate if all((candidate / n).is_file() for n in MNIST_FILES) else None


@pytest.fixture(scope="session")
def mnist_manual_dir() -> Path:
    found = real_mnist_dir()
    if found is None:
        pytest.skip("real MNIST files not found: set TFDS_MANUAL_DIR or add ../shared/data/mnist")
    return found


@pytest.fixture(scope="session")
def prepared_mnist_data_dir(mnist_manual_dir: Path, tmp_path_factory) -> str:
    """A TFDS data_dir with MNIST prepared from the real files, once per test session."""
    from components.tfds_example_gen import tfds_source

    data_dir = str(tmp_path_factory.mktemp("tfds_data"))
    tfds_source.prepare_dataset("mnist", data_dir, str(mnist_manual_dir))
    return data_dir


def read_split(examples: standard_artifacts.Examples, split: str) -> list[tf.train.Example]:
    files = sorted(glob.glob(os.path.join(examples.uri, f"Split-{split}", "*")))
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
