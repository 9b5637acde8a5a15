"""The baseline Trainer: run_fn through TFX's Trainer executor, on tiny tf.Examples."""

from __future__ import annotations

import dataclasses
import glob
import json
import os

import numpy as np
import pytest
import tensorflow as tf
from tfx.proto import trainer_pb2
from tfx.types import standard_artifacts
from tfx.utils import proto_utils

from components import model_artifact, properties
from components.anomalies import AnomaliesFoundError
from components.baseline_trainer import RUN_FN, Executor
from components.baseline_trainer.module import parse_custom_config
from pruning import data
from pruning.model import export
from tests.components.support import SPLIT_SIZES, TINY_MODEL, anomalies_of, write_anomalies

TRAINING = {"epochs": 2, "batch_size": 32, "learning_rate": 3e-3}


def exec_properties(custom_config: dict, **train_args) -> dict:
    return {
        "run_fn": RUN_FN,
        "train_args": proto_utils.proto_to_json(trainer_pb2.TrainArgs(splits=["train"],
                                                                      **train_args)),
        "eval_args": proto_utils.proto_to_json(trainer_pb2.EvalArgs(splits=["eval"])),
        "custom_config": json.dumps(custom_config),
        "stop_on_anomalies": 1,
    }


@pytest.fixture(scope="module")
def trained(tiny_inputs, clean_anomalies, tmp_path_factory):
    examples, schema = tiny_inputs
    model = standard_artifacts.Model()
    model.uri = str(tmp_path_factory.mktemp("model"))
    model_run = standard_artifacts.ModelRun()
    model_run.uri = str(tmp_path_factory.mktemp("model_run"))
    sequential = {**dataclasses.asdict(TINY_MODEL), "keras_api": "sequential"}
    config = {"model": sequential, "training": TRAINING}
    Executor().Do(
        {"examples": [examples], "schema": [schema], "anomalies": [clean_anomalies]},
        {"model": [model], "model_run": [model_run]},
        exec_properties(config),
    )
    return model, model_run


def test_model_artifact_carries_test_metrics_and_parameter_count(trained):
    model, _ = trained
    metrics = model_artifact.read_metrics(model.uri)
    keras_model = model_artifact.load_model(model.uri)
    assert model.get_int_custom_property("num_parameters") == keras_model.count_params() > 0
    assert model.get_float_custom_property("test_accuracy") == metrics["test_accuracy"]
    assert 0 <= metrics["test_accuracy"] <= 1
    assert model.get_float_custom_property("test_loss") == pytest.approx(metrics["test_loss"])
    assert metrics["num_eval_examples"] == SPLIT_SIZES["eval"]
    assert model.get_string_custom_property(properties.KERAS_API) == "sequential"
    assert keras_model.name == "cnn_sequential"


def test_serving_signature_scores_serialized_examples(trained, tiny_inputs):
    model, _ = trained
    examples, _ = tiny_inputs
    files = glob.glob(os.path.join(examples.uri, "Split-eval", "*"))
    records = list(tf.data.TFRecordDataset(files, compression_type="GZIP").take(5))
    serving = tf.saved_model.load(model_artifact.serving_dir(model.uri))
    scores = serving.signatures[export.SERVING_SIGNATURE](examples=tf.stack(records))["scores"]
    assert scores.shape == (5, 10)
    np.testing.assert_allclose(tf.reduce_sum(scores, axis=1), np.ones(5), rtol=1e-5)
    # The same scores as the Keras file on the same pixels.
    images, _ = data.parse_examples(tf.stack(records))
    keras_model = model_artifact.load_model(model.uri)
    keras_scores = tf.nn.softmax(keras_model(data.model_inputs(images.numpy(),
                                                               keras_model.input_shape),
                                             training=False))
    np.testing.assert_allclose(scores, keras_scores, atol=1e-5)


def test_model_run_holds_tensorboard_logs(trained):
    _, model_run = trained
    assert glob.glob(os.path.join(model_run.uri, "train", "events.out.tfevents.*"))


@pytest.mark.parametrize(
    ("custom_config", "message"),
    [
        ({"model": {"keras_api": "resnet"}},
         "keras_api must be one of functional, sequential, got 'resnet'"),
        ({"model": {"depth": 3}}, r"Unknown ModelParams field\(s\) \['depth'\]"),
        ({"training": {"epochs": 0}}, "epochs must be >= 1, got 0"),
        ({"trainig": {}}, r"Unknown custom_config keys \['trainig'\]"),
    ],
)
def test_bad_custom_config_is_rejected_before_training(custom_config, message):
    with pytest.raises((ValueError, TypeError), match=message):
        parse_custom_config(custom_config)


def _outputs(tmp_path) -> dict:
    model, model_run = standard_artifacts.Model(), standard_artifacts.ModelRun()
    model.uri, model_run.uri = str(tmp_path / "m"), str(tmp_path / "r")
    return {"model": [model], "model_run": [model_run]}


def test_num_steps_is_rejected(tiny_inputs, clean_anomalies, tmp_path):
    examples, schema = tiny_inputs
    with pytest.raises(ValueError, match="num_steps are not used"):
        Executor().Do({"examples": [examples], "schema": [schema], "anomalies": [clean_anomalies]},
                      _outputs(tmp_path), exec_properties({}, num_steps=5))


def test_anomalies_stop_the_trainer_before_it_reads_an_example(tiny_inputs, tmp_path):
    _, schema = tiny_inputs
    unreadable = standard_artifacts.Examples()  # reading any example would fail differently
    unreadable.uri, unreadable.split_names = str(tmp_path / "none"), '["train", "eval"]'
    found = write_anomalies(str(tmp_path / "anomalies"), {
        "train": anomalies_of(label=("Out-of-range values", ["Unexpectedly large value: 12."])),
        "eval": anomalies_of()})
    outputs = _outputs(tmp_path)
    with pytest.raises(AnomaliesFoundError, match=r"1 of them, .*split train: label: "
                       r"Out-of-range values \(Unexpectedly large value: 12.\)"):
        Executor().Do({"examples": [unreadable], "schema": [schema], "anomalies": [found]},
                      outputs, exec_properties({}))
    assert not os.path.exists(outputs["model"][0].uri)  # nothing written
    # Turned off, the same anomalies only warn, and the Trainer goes on to read the examples.
    with pytest.raises(FileNotFoundError, match="none"):
        Executor().Do({"examples": [unreadable], "schema": [schema], "anomalies": [found]},
                      outputs, {**exec_properties({}), "stop_on_anomalies": 0})


def test_the_trainer_refuses_to_run_without_the_validation(tiny_inputs, tmp_path):
    examples, schema = tiny_inputs
    with pytest.raises(ValueError, match="needs the ExampleValidator's 'anomalies'"):
        Executor().Do({"examples": [examples], "schema": [schema]}, _outputs(tmp_path),
                      exec_properties({}))
