"""The input fingerprint: what TfdsExampleGen read is part of its cache key."""

from __future__ import annotations

import os
import shutil

import pytest
import tensorflow_datasets as tfds
from tfx.orchestration import metadata as tfx_metadata
from tfx.orchestration import pipeline
from tfx.orchestration.local.local_dag_runner import LocalDagRunner

from components.tfds_example_gen import TfdsExampleGen, driver, tfds_source
from pipelines import metadata, outputs
from tests.support import IN_PROCESS_BEAM_ARGS


def _prepared_files(data_dir: str, dataset: str = "mnist") -> str:
    """A directory laid out like a prepared TFDS dataset (the fingerprint reads the listing)."""
    directory = tfds.builder(dataset, data_dir=data_dir).data_dir
    os.makedirs(directory, exist_ok=True)
    for name in (f"{dataset}-test.tfrecord-00000-of-00001",
                 f"{dataset}-train.tfrecord-00000-of-00001"):
        with open(os.path.join(directory, name), "w") as f:
            f.write("x" * 10)
    return directory


def test_fingerprint_changes_when_the_prepared_files_change(tmp_path):
    directory = _prepared_files(str(tmp_path))
    builder = tfds.builder("mnist", data_dir=str(tmp_path))
    first = tfds_source.fingerprint(builder)
    assert first.startswith("tfds:mnist:3.0.1,files:2,files_sha256:")
    assert tfds_source.fingerprint(builder) == first  # the same files: the same fingerprint

    path = os.path.join(directory, "mnist-train.tfrecord-00000-of-00001")
    stat = os.stat(path)
    with open(path, "w") as f:
        f.write("y" * 11)  # prepared again, with other content
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # even with the old time
    second = tfds_source.fingerprint(builder)
    assert second != first

    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert tfds_source.fingerprint(builder) not in (first, second)


def test_fingerprints_of_two_datasets_differ_even_with_the_same_files(tmp_path):
    _prepared_files(str(tmp_path), "mnist")
    _prepared_files(str(tmp_path), "fashion_mnist")
    mnist, fashion = (tfds_source.fingerprint(tfds.builder(d, data_dir=str(tmp_path)))
                      for d in ("mnist", "fashion_mnist"))
    assert mnist.startswith("tfds:mnist:") and fashion.startswith("tfds:fashion_mnist:")


@pytest.mark.parametrize("dataset", ["mnist", "fashion_mnist", "mnist:3.0.1"])
def test_each_dataset_version_downloads_into_its_own_directory(tmp_path, dataset):
    builder = tfds.builder(dataset, data_dir=str(tmp_path))
    name = dataset.split(":")[0]
    assert tfds_source.download_dir(builder) == str(tmp_path / "downloads" / name / "3.0.1")


def test_the_driver_leaves_an_unready_dataset_to_the_executor(tmp_path):
    # A driver that raised would leave its execution RUNNING forever in ML Metadata.
    found = driver.input_fingerprint(
        {"dataset": "mnist", "data_dir": str(tmp_path / "tfds"), "manual_dir": None})
    assert found == "unprepared: ManualDataMissingError"


def _example_gen_only(tmp_path, manual_dir: str) -> pipeline.Pipeline:
    example_gen = TfdsExampleGen(data_dir=str(tmp_path / "tfds"), manual_dir=manual_dir,
                                 example_limit=50)
    return pipeline.Pipeline(
        pipeline_name="fingerprint", pipeline_root=str(tmp_path / "root"),
        components=[example_gen], enable_cache=True,
        metadata_connection_config=tfx_metadata.sqlite_metadata_connection_config(
            str(tmp_path / "metadata.sqlite")),
        beam_pipeline_args=IN_PROCESS_BEAM_ARGS)


@pytest.mark.integration
def test_changed_input_data_is_not_served_from_the_cache(
    tmp_path, prepared_data_dir, mnist_manual_dir
):
    shutil.copytree(os.path.join(prepared_data_dir, "mnist"), tmp_path / "tfds" / "mnist")
    store_path = str(tmp_path / "metadata.sqlite")
    states, fingerprints = [], []
    for prepare_again in (False, False, True):
        if prepare_again:  # what a user does with a wrong prepared copy: delete it, run again
            shutil.rmtree(tmp_path / "tfds" / "mnist")
        LocalDagRunner().run(_example_gen_only(tmp_path, str(mnist_manual_dir)))
        [row] = outputs.newest_outputs(store_path, "fingerprint")
        states.append(row.state)
        [artifact] = metadata.open_sqlite(store_path).get_artifacts_by_uri(row.uri)
        fingerprints.append(artifact.custom_properties["input_fingerprint"].string_value)

    assert states == ["COMPLETE", "CACHED", "COMPLETE"]
    assert fingerprints[0] == fingerprints[1] != fingerprints[2]
    assert (tmp_path / "tfds" / "mnist" / "3.0.1" / "dataset_info.json").is_file()  # prepared
