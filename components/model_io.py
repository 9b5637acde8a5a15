"""What both trainers' executors share: splits read through TFX's data accessor, and the layout
and ML Metadata properties of the Model artifacts they write.

A Model artifact of this project holds:
    Format-Serving/   SavedModel, `serving_default` on serialized tf.Examples (TFMA, TF Serving)
    Format-Keras/model.keras   the Keras model (the next step loads it)
    metrics.json      accuracy and loss on the eval split, parameter count, ...
    sparsity.json     pruned models only: sparsity per pruned layer and overall
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping

import numpy as np
import tensorflow as tf
import tf_keras as keras
from tensorflow_metadata.proto.v0 import schema_pb2
from tfx.components.trainer.fn_args_utils import FnArgs
from tfx.types import Artifact
from tfx.utils import io_utils, path_utils
from tfx_bsl.public import tfxio

from pruning import data, export
from pruning.evaluate import Metrics

KERAS_DIR = "Format-Keras"
METRICS_FILE = "metrics.json"
SPARSITY_FILE = "sparsity.json"
_READ_BATCH = 4096


def load_split(fn_args: FnArgs, files: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """All examples of `files` as (images [N, 28, 28] float32 in [0, 1], labels [N]).

    Read once through the data accessor with the pipeline's Schema, then kept in memory.
    """
    schema = io_utils.parse_pbtxt_file(fn_args.schema_path, schema_pb2.Schema())
    dataset = fn_args.data_accessor.tf_dataset_factory(
        files, tfxio.TensorFlowDatasetOptions(batch_size=_READ_BATCH, num_epochs=1), schema
    )
    return data.to_arrays(dataset.map(data.features_to_inputs))


def eval_dataset(images: np.ndarray, labels: np.ndarray) -> tf.data.Dataset:
    return data.in_memory_dataset(images, labels, 1000)


def serving_dir(model_uri: str) -> str:
    return path_utils.serving_model_dir(model_uri)


def keras_path(model_uri: str) -> str:
    return os.path.join(model_uri, KERAS_DIR, export.KERAS_FILE)


def load_model(model_uri: str) -> keras.Model:
    """The Keras model of a Model artifact; a clear error when it has none."""
    path = keras_path(model_uri)
    if not tf.io.gfile.exists(path):
        raise FileNotFoundError(
            f"Model artifact {model_uri} has no Keras file {path}: pruning starts from a model "
            "written by this project's Trainer (components/baseline_trainer)"
        )
    return export.load_keras(path)


def write_model(model_uri: str, model: keras.Model, metrics: Metrics, extra: Mapping) -> dict:
    """SavedModel + Keras file + metrics.json; returns what metrics.json holds."""
    export.export_saved_model(model, serving_dir(model_uri))
    export.save_keras(model, os.path.dirname(keras_path(model_uri)))
    summary = {
        "test_accuracy": metrics.accuracy,
        "test_loss": metrics.loss,
        "num_eval_examples": metrics.num_examples,
        "num_parameters": int(model.count_params()),
        **extra,
    }
    write_json(os.path.join(model_uri, METRICS_FILE), summary)
    return summary


def read_metrics(model_uri: str) -> dict:
    path = os.path.join(model_uri, METRICS_FILE)
    if not tf.io.gfile.exists(path):
        raise FileNotFoundError(f"The trainer wrote no {METRICS_FILE} into {model_uri}")
    with tf.io.gfile.GFile(path) as f:
        return json.load(f)


def write_json(path: str, value: Mapping) -> None:
    tf.io.gfile.makedirs(os.path.dirname(path))
    with tf.io.gfile.GFile(path, "w") as f:
        json.dump(value, f, indent=2, sort_keys=True)


def record_properties(artifact: Artifact, values: Mapping[str, object]) -> None:
    """Scalar values as the artifact's custom properties in ML Metadata (others are skipped)."""
    for key, value in values.items():
        if isinstance(value, bool):
            artifact.set_int_custom_property(key, int(value))
        elif isinstance(value, int):
            artifact.set_int_custom_property(key, value)
        elif isinstance(value, float):
            artifact.set_float_custom_property(key, value)
        elif isinstance(value, str):
            artifact.set_string_custom_property(key, value)
