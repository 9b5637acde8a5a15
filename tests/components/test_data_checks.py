"""The Examples' contract (`components/examples.py`) and the anomalies gate
(`components/anomalies.py`), on artifacts in TensorFlow's `ram://` filesystem: Python's `open`
cannot reach it, so every read here goes through `tf.io.gfile` as on a bucket."""

from __future__ import annotations

import logging
import uuid

import numpy as np
import pytest
import tensorflow as tf
from tensorflow_metadata.proto.v0 import anomalies_pb2, schema_pb2
from tfx.types import standard_artifacts

from components import anomalies, examples
from pruning import data
from tests.components.support import anomalies_of, write_anomalies
from tests.records import flip_middle, rewrite


def _ram_dir() -> str:
    return f"ram://{uuid.uuid4().hex}"


def _write_records(path: str, count: int, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    with tf.io.TFRecordWriter(path, "GZIP") as writer:
        for i in range(count):
            writer.write(tf.train.Example(features=tf.train.Features(feature={
                "image": tf.train.Feature(int64_list=tf.train.Int64List(
                    value=rng.integers(0, 256, 784).tolist())),
                "label": tf.train.Feature(int64_list=tf.train.Int64List(value=[i % 10])),
            })).SerializeToString())


def _flip_inside_a_record(raw: bytes) -> bytes:
    """Valid gzip around a changed TFRecord payload: only the record's own checksum sees it."""
    import gzip

    plain = bytearray(gzip.decompress(raw))
    plain[len(plain) // 2] ^= 0xFF
    return gzip.compress(bytes(plain))


def _examples_artifact(root: str) -> standard_artifacts.Examples:
    artifact = standard_artifacts.Examples()
    artifact.uri = root
    artifact.split_names = '["train", "eval"]'
    for split in ("train", "eval"):
        for shard in range(2):
            _write_records(f"{root}/Split-{split}/data-{shard}.gz", 40, seed=shard)
    return artifact


@pytest.mark.parametrize("change, reason", [
    (flip_middle, "incorrect data check"),
    (lambda raw: raw[: len(raw) * 2 // 3], "truncated"),
    (_flip_inside_a_record, "corrupted record"),
])
def test_find_corrupt_files_names_each_changed_file_and_why(change, reason):
    root = _ram_dir()
    files = [f"{root}/data-{i}.gz" for i in range(3)]
    for i, path in enumerate(files):
        _write_records(path, 60, seed=i)
    rewrite(files[1], change)
    corrupt = data.find_corrupt_files(files)
    assert list(corrupt) == [files[1]]
    assert reason in corrupt[files[1]] and "Op:" not in corrupt[files[1]]


def test_read_files_raises_naming_the_corrupt_file():
    root = _ram_dir()
    files = [f"{root}/data-{i}.gz" for i in range(2)]
    for i, path in enumerate(files):
        _write_records(path, 30, seed=i)
    assert len(data.read_files(files)[0]) == 60
    rewrite(files[0], _flip_inside_a_record)
    with pytest.raises(data.CorruptRecordsError, match=r"1 of 2 TFRecord files .*data-0\.gz "
                       r"\(corrupted record at \d+\)"):
        data.read_files(files)


def test_naming_corrupt_files_replaces_a_failure_with_the_files_name():
    artifact = _examples_artifact(_ram_dir())
    corrupt = f"{artifact.uri}/Split-eval/data-1.gz"
    rewrite(corrupt, flip_middle)
    with (pytest.raises(data.CorruptRecordsError, match=r"1 of 4 TFRecord files") as raised,
          examples.naming_corrupt_files([artifact])):
        raise ValueError("Error -3 while decompressing data")  # what Beam says
    assert corrupt in str(raised.value)
    assert "Error -3" in str(raised.value.__cause__)


def test_naming_corrupt_files_checks_only_the_splits_the_step_reads():
    artifact = _examples_artifact(_ram_dir())
    rewrite(f"{artifact.uri}/Split-eval/data-1.gz", flip_middle)
    with pytest.raises(KeyError, match="not about the data"), \
            examples.naming_corrupt_files([artifact], ["train"]):
        raise KeyError("not about the data")


def test_naming_corrupt_files_lets_other_failures_through_unchanged():
    artifact = _examples_artifact(_ram_dir())
    with pytest.raises(KeyError, match="not about the data") as raised, \
            examples.naming_corrupt_files([artifact]):
        try:
            raise OSError("the root cause")
        except OSError as cause:
            raise KeyError("not about the data") from cause
    assert isinstance(raised.value.__cause__, OSError)  # the chain is kept


def test_a_check_that_fails_leaves_the_original_failure(caplog):
    artifact = _examples_artifact(_ram_dir())
    artifact.split_names = '["train", "missing"]'  # listing its files fails
    with pytest.raises(KeyError, match="the step's own failure"), \
            examples.naming_corrupt_files([artifact]):
        raise KeyError("the step's own failure")
    assert "Could not check the files for corruption" in caplog.text


def test_a_missing_file_is_not_called_corrupt():
    root = _ram_dir()
    _write_records(f"{root}/data-0.gz", 10)
    with pytest.raises(tf.errors.NotFoundError):
        data.find_corrupt_files([f"{root}/data-0.gz", f"{root}/gone.gz"])


def test_constrain_schema_requires_the_models_features_and_ranges():
    inferred = schema_pb2.Schema()
    # What inference gives for a label missing from some examples, and an extra feature.
    label = inferred.feature.add(name="label", type=schema_pb2.INT)
    label.presence.min_fraction = 0.5
    label.value_count.min = label.value_count.max = 1
    extra = inferred.feature.add(name="id", type=schema_pb2.BYTES)
    extra.presence.min_fraction = 0.25
    constrained = {f.name: f for f in examples.constrain_schema(inferred).feature}
    label, image = constrained["label"], constrained["image"]  # image added: never seen
    assert (label.int_domain.min, label.int_domain.max) == (0, 9)
    assert (image.int_domain.min, image.int_domain.max) == (0, 255)
    assert label.presence.min_fraction == image.presence.min_fraction == 1.0
    assert image.type == schema_pb2.INT and [d.size for d in image.shape.dim] == [784]
    # What was inferred of the label's layout stays, for check_schema to judge.
    assert label.value_count.max == 1 and not label.HasField("shape")
    assert constrained["id"] == extra  # not the model's: left as inferred
    assert inferred.feature[0].presence.min_fraction == 0.5  # the input is not changed


def test_constrain_schema_keeps_another_layout_for_check_schema_to_name(tmp_path):
    inferred = schema_pb2.Schema()
    image = inferred.feature.add(name="image", type=schema_pb2.BYTES)
    image.shape.dim.add(size=1)
    inferred.feature.add(name="label", type=schema_pb2.INT).shape.dim.add(size=1)
    constrained = examples.constrain_schema(inferred)
    assert not constrained.feature[0].HasField("int_domain")  # no integer range on bytes
    (tmp_path / "schema.pbtxt").write_text(str(constrained))
    with pytest.raises(ValueError, match=r"image: expected INT of shape \[784\], found BYTES "
                       r"of shape \[1\]"):
        examples.check_schema(str(tmp_path))


def test_the_gate_stops_naming_every_anomaly_of_every_split():
    artifact = write_anomalies(_ram_dir(), {
        "train": anomalies_of(label=("Out-of-range values", ["Unexpectedly large value: 12."])),
        "eval": anomalies_of(image=("Column dropped", ["The feature was present in fewer "
                                                       "examples"])),
    })
    with pytest.raises(anomalies.AnomaliesFoundError) as raised:
        anomalies.check_examples([artifact], stop=True)
    message = str(raised.value)
    assert "found anomalies in the Examples, 2 of them, so training stops" in message
    assert ("split train: label: Out-of-range values (Unexpectedly large value: 12.)"
            in message)
    assert "split eval: image: Column dropped" in message
    assert "turn the Trainer's stop_on_anomalies off" in message


def test_a_dataset_anomaly_is_named_too():
    found = anomalies_pb2.Anomalies()
    found.dataset_anomaly_info.description = "Low number of examples"
    assert anomalies.describe({"eval": found}) == ["split eval: the dataset: Low number of "
                                                   "examples"]


def test_the_gate_passes_clean_data_and_only_warns_when_turned_off(caplog):
    anomalies.check_examples([write_anomalies(_ram_dir())], stop=True)
    bad = write_anomalies(_ram_dir(), {"train": anomalies_of(label=("Out-of-range values", []))})
    with caplog.at_level(logging.WARNING):
        anomalies.check_examples([bad], stop=False)
    assert "Training despite anomalies in the Examples (stop_on_anomalies is off), 1 of them: " \
           "split train: label: Out-of-range values" in caplog.text
