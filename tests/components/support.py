"""Helpers and constants the tests of tests/components/ share (their fixtures: conftest.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tensorflow as tf
import tf_keras as keras
from tfx.types import standard_artifacts

from components import model_artifact
from pruning.model import cnn
from pruning.params import ModelParams
from pruning.training.metrics import Metrics

# What the pipeline's SchemaGen writes for MNIST's Examples (`examples.constrain_schema`).
SCHEMA_PBTXT = """
feature {
  name: "image" type: INT presence { min_fraction: 1.0 min_count: 1 } shape { dim { size: 784 } }
  int_domain { min: 0 max: 255 }
}
feature {
  name: "label" type: INT presence { min_fraction: 1.0 min_count: 1 } shape { dim { size: 1 } }
  int_domain { min: 0 max: 9 }
}
"""


SPLIT_SIZES = {"train": 96, "eval": 32}


TINY_MODEL = ModelParams(width=8, dense_units=16, dropout=0.0)


def _example(image: np.ndarray, label: int) -> bytes:
    features = {
        "image": tf.train.Feature(int64_list=tf.train.Int64List(value=image.ravel().tolist())),
        "label": tf.train.Feature(int64_list=tf.train.Int64List(value=[label])),
    }
    return tf.train.Example(features=tf.train.Features(feature=features)).SerializeToString()


def write_examples(root: Path) -> standard_artifacts.Examples:
    """An Examples artifact like TfdsExampleGen's: gzipped tf.Examples in Split-train/eval.

    Labels are learnable (a bright square whose position encodes the class), so a few steps
    of training beat chance.
    """
    rng = np.random.default_rng(0)
    examples = standard_artifacts.Examples()
    examples.uri = str(root / "examples")
    examples.split_names = '["train", "eval"]'
    for split, size in SPLIT_SIZES.items():
        directory = root / "examples" / f"Split-{split}"
        directory.mkdir(parents=True)
        options = tf.io.TFRecordOptions(compression_type="GZIP")
        with tf.io.TFRecordWriter(str(directory / "data.gz"), options) as writer:
            for _ in range(size):
                label = int(rng.integers(0, 10))
                image = rng.integers(0, 40, size=(28, 28))
                row, col = divmod(label, 5)
                image[4 + 10 * row: 12 + 10 * row, 2 + 5 * col: 6 + 5 * col] = 255
                writer.write(_example(image, label))
    return examples


def write_anomalies(uri: str, by_split: dict | None = None) -> standard_artifacts.ExampleAnomalies:
    """An ExampleAnomalies artifact as the ExampleValidator writes it, at any URI TensorFlow
    writes: one `SchemaDiff.pb` per split; `by_split` maps a split to its tensorflow_metadata
    Anomalies (default: none in train and eval)."""
    from tensorflow_metadata.proto.v0 import anomalies_pb2

    by_split = by_split or {"train": anomalies_pb2.Anomalies(), "eval": anomalies_pb2.Anomalies()}
    artifact = standard_artifacts.ExampleAnomalies()
    artifact.uri = uri
    artifact.split_names = "[" + ", ".join(f'"{split}"' for split in by_split) + "]"
    for split, found in by_split.items():
        tf.io.gfile.makedirs(f"{uri}/Split-{split}")
        with tf.io.gfile.GFile(f"{uri}/Split-{split}/SchemaDiff.pb", "wb") as f:
            f.write(found.SerializeToString())
    return artifact


def anomalies_of(**features: tuple[str, list[str]]):
    """Anomalies with one AnomalyInfo per feature: name=(short description, [reasons])."""
    from tensorflow_metadata.proto.v0 import anomalies_pb2

    found = anomalies_pb2.Anomalies()
    for name, (short, reasons) in features.items():
        info = found.anomaly_info[name]
        info.short_description = short
        for description in reasons:
            info.reason.add(description=description)
    return found


def write_schema(root: Path) -> standard_artifacts.Schema:
    schema = standard_artifacts.Schema()
    schema.uri = str(root / "schema")
    (root / "schema").mkdir()
    (root / "schema" / "schema.pbtxt").write_text(SCHEMA_PBTXT)
    return schema


def write_base_model(directory: Path) -> standard_artifacts.Model:
    """A Model artifact as the baseline Trainer writes it, holding an untrained tiny CNN."""
    model = standard_artifacts.Model()
    model.uri = str(directory)
    keras.utils.set_random_seed(0)
    model_artifact.write_model(model.uri, cnn.build_model(params=TINY_MODEL),
                               Metrics(0.1, 2.3, 32), {})
    return model
