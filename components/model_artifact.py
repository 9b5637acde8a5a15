"""The Model artifacts both trainers write and the next steps read.

A Model artifact of this project holds:
    Format-Serving/   SavedModel, `serving_default` on serialized tf.Examples (TFMA, TF Serving)
    Format-Keras/model.keras   the Keras model (the next step loads it)
    metrics.json      accuracy and loss on the eval split, parameter count, ...
    sparsity.json     pruned models only: sparsity per pruned layer and overall
    model_module.json the model module it was built from (name, source, SHA-256), when one was:
                      run before the Keras file is loaded, so the module's own layers and
                      structured-pruning rules are registered in whichever process reads it

Every path goes through `tf.io.gfile`, so the artifact may live in a bucket. The Keras code
(`pruning.model.export`, which needs TensorFlow Model Optimization for the custom layer) loads
when a model is read or written, not when a pipeline is defined.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping

import tensorflow as tf
from tfx.utils import path_utils

from components import properties

KERAS_DIR = "Format-Keras"
KERAS_FILE = "model.keras"
METRICS_FILE = "metrics.json"
SPARSITY_FILE = "sparsity.json"
MODULE_FILE = "model_module.json"


def serving_dir(model_uri: str) -> str:
    return path_utils.serving_model_dir(model_uri)


def keras_path(model_uri: str) -> str:
    return os.path.join(model_uri, KERAS_DIR, KERAS_FILE)


def load_model(model_uri: str):
    """The Keras model of a Model artifact, its model module run first when it has one; a clear
    error when it has no Keras file."""
    from pruning.model import export, modules

    module = module_of(model_uri)
    if module is not None:
        modules.load(module)  # registers the module's layers and rules in this process
    path = keras_path(model_uri)
    if not tf.io.gfile.exists(path):
        raise FileNotFoundError(
            f"Model artifact {model_uri} has no Keras file {path}: pruning starts from a model "
            "written by this project's Trainer (components/baseline_trainer)"
        )
    return export.load_keras(path)


def module_of(model_uri: str):
    """The model module (`pruning.model.modules.ModuleSource`) a Model artifact was built from,
    or None."""
    from pruning.model import modules

    path = os.path.join(model_uri, MODULE_FILE)
    if not tf.io.gfile.exists(path):
        return None
    with tf.io.gfile.GFile(path) as f:
        return modules.ModuleSource.from_dict(json.load(f))


def write_model(model_uri: str, model, metrics, extra: Mapping, module=None,
                image_format=None) -> dict:
    """SavedModel (serving tf.Examples in `image_format`, the data's; MNIST's by default) +
    Keras file + metrics.json (`metrics`: a pruning Metrics) and, given the model module it was
    built from (a `ModuleSource`), model_module.json; returns what metrics.json holds, under the
    ML Metadata property names."""
    from pruning import data
    from pruning.model import export

    export.export_saved_model(model, serving_dir(model_uri), image_format or data.MNIST)
    export.save_keras(model, keras_path(model_uri))
    if module is not None:
        write_json(os.path.join(model_uri, MODULE_FILE), module.to_dict())
    summary = {
        properties.TEST_ACCURACY: metrics.accuracy,
        properties.TEST_LOSS: metrics.loss,
        properties.NUM_EVAL_EXAMPLES: metrics.num_examples,
        properties.NUM_PARAMETERS: int(model.count_params()),
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
