"""PruneTrainer's executor on tiny tf.Examples: outputs, ML Metadata properties, resume."""

from __future__ import annotations

import glob
import json
import os
import signal
import subprocess
import sys

import pytest
import tensorflow as tf
from tfx.types import standard_artifacts

from components import model_artifact, progress
from components.prune_trainer import PruningCheckpoint, executor
from pipelines import faults
from pruning.model import export
from pruning.params import ClusteringParams, FilterParams
from pruning.sparsity import filters, prune
from pruning.training import checkpoint
from tests.components.prune_trainer.helpers import (
    EPOCHS,
    STEPS_PER_EPOCH,
    component_exec_properties,
)
from tests.components.support import SPLIT_SIZES

PRUNED = ["conv1", "conv2", "conv3", "dense1", "logits"]


def outputs(root) -> dict:
    model, model_run, ckpt = (standard_artifacts.Model(), standard_artifacts.ModelRun(),
                              PruningCheckpoint())
    model.uri = str(root / "PruneTrainer" / "model" / "3")
    model_run.uri = str(root / "PruneTrainer" / "model_run" / "3")
    ckpt.uri = str(root / "PruneTrainer" / "checkpoint" / "3")
    return {"model": [model], "model_run": [model_run], "checkpoint": [ckpt]}


@pytest.fixture(scope="module")
def pruned(tiny_inputs, tiny_base_model, tmp_path_factory):
    examples, schema = tiny_inputs
    root = tmp_path_factory.mktemp("pipeline_root")
    output_dict = outputs(root)
    inputs = {"examples": [examples], "schema": [schema], "base_model": [tiny_base_model]}
    executor.Executor().Do(inputs, output_dict, component_exec_properties())
    return root, output_dict


def test_model_holds_stripped_pruned_model_and_its_sparsity(pruned):
    _, output_dict = pruned
    model = output_dict["model"][0]
    with open(os.path.join(model.uri, model_artifact.SPARSITY_FILE)) as f:
        report = json.load(f)
    assert sorted(report["layers"]) == PRUNED
    assert report["layers"]["dense1"]["sparsity"] == pytest.approx(0.9, abs=0.01)
    assert report["layers"]["conv2"]["sparsity"] == pytest.approx(0.8, abs=0.01)
    assert model.get_float_custom_property("sparsity") == pytest.approx(report["overall"])

    keras_model = model_artifact.load_model(model.uri)
    assert not any("prune_low_magnitude" in layer.name for layer in keras_model.layers)
    kernel = keras_model.get_layer("dense1").kernel.numpy()
    assert (kernel == 0).mean() == pytest.approx(report["layers"]["dense1"]["sparsity"])

    metrics = model_artifact.read_metrics(model.uri)
    assert metrics["num_eval_examples"] == SPLIT_SIZES["eval"]
    for key in ("test_accuracy", "test_loss"):
        assert model.get_float_custom_property(key) == pytest.approx(metrics[key])
    assert model.get_int_custom_property("resumed_from_epoch") == 0


def test_serving_signature_of_the_pruned_model_scores_examples(pruned, tiny_inputs):
    model = pruned[1]["model"][0]
    files = glob.glob(os.path.join(tiny_inputs[0].uri, "Split-eval", "*"))
    records = tf.stack(list(tf.data.TFRecordDataset(files, compression_type="GZIP").take(3)))
    serving = tf.saved_model.load(model_artifact.serving_dir(model.uri))
    assert serving.signatures[export.SERVING_SIGNATURE](examples=records)["scores"].shape == (3, 10)


def test_checkpoint_artifact_holds_model_optimizer_and_epoch(pruned):
    root, output_dict = pruned
    ckpt = output_dict["checkpoint"][0]
    path = checkpoint.latest_in(ckpt.uri)
    assert checkpoint.saved_value(path, "epoch") == EPOCHS
    assert checkpoint.saved_value(path, "iterations") == EPOCHS * STEPS_PER_EPOCH
    assert ckpt.get_int_custom_property("optimizer_iterations") == EPOCHS * STEPS_PER_EPOCH
    names = [name for name, _ in tf.train.list_variables(path)]
    assert any("pruning_step" in n or "mask" in n for n in names)  # the wrappers' state
    assert any(n.startswith("optimizer/_variables/") for n in names)  # Adam's slots
    # The per-execution resume checkpoints are gone once the outputs exist.
    assert os.listdir(root / "PruneTrainer" / executor.RESUME_DIR) == []


def test_model_run_has_pruning_summaries(pruned):
    model_run = pruned[1]["model_run"][0]
    tags = set()
    for path in glob.glob(os.path.join(model_run.uri, "**", "events.out.tfevents.*"),
                          recursive=True):
        for event in tf.compat.v1.train.summary_iterator(path):
            tags.update(value.tag for value in event.summary.value)
    for layer in PRUNED:  # PruningSummaries: each wrapped layer's mask sparsity
        assert f"prune_low_magnitude_{layer}/mask:0/sparsity" in tags, sorted(tags)


def test_sigkilled_execution_resumes_from_its_last_epoch(tmp_path):
    def run(*extra):
        return subprocess.run(
            [sys.executable, "-m", "tests.components.prune_trainer.run_executor", str(tmp_path),
             *extra], capture_output=True, text=True, timeout=600)

    killed = run("--kill-after-epoch", "1")
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
    # The line `make faults` waits for before it kills a PruneTrainer is the one it logs.
    assert faults.PRUNE_MARKER in killed.stderr
    assert progress.epoch_done(prune.WEIGHTS_DIR, 1, EPOCHS) in killed.stderr
    assert not (tmp_path / "report.json").exists()
    [saved] = glob.glob(str(tmp_path / "node" / executor.RESUME_DIR / "*"
                               / prune.WEIGHTS_DIR / "ckpt-1.index"))

    retried = run()
    assert retried.returncode == 0, retried.stderr[-3000:]
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["resumed_from_epoch"] == 1
    # Resumed, not restarted: the optimizer took exactly EPOCHS epochs of steps in all.
    assert report["optimizer_iterations"] == EPOCHS * STEPS_PER_EPOCH
    assert not os.path.exists(saved)


def test_warmup_checkpoint_continues_the_earlier_run(pruned, tiny_inputs, tiny_base_model,
                                                     tmp_path):
    examples, schema = tiny_inputs
    earlier = pruned[1]["checkpoint"][0]
    output_dict = outputs(tmp_path)
    inputs = {"examples": [examples], "schema": [schema], "base_model": [tiny_base_model],
              "warmup_checkpoint": [earlier]}
    executor.Executor().Do(inputs, output_dict, component_exec_properties())

    model, ckpt = output_dict["model"][0], output_dict["checkpoint"][0]
    assert model.get_int_custom_property("warm_started") == 1
    assert ckpt.get_int_custom_property("optimizer_iterations") == 2 * EPOCHS * STEPS_PER_EPOCH


def test_base_model_without_keras_file_is_a_clear_error(tiny_inputs, tmp_path):
    examples, schema = tiny_inputs
    empty = standard_artifacts.Model()
    empty.uri = str(tmp_path / "empty")
    inputs = {"examples": [examples], "schema": [schema], "base_model": [empty]}
    with pytest.raises(FileNotFoundError, match="has no Keras file"):
        executor.Executor().Do(inputs, outputs(tmp_path), component_exec_properties())


def test_clustering_after_pruning_keeps_the_sparsity_with_few_values(
    tiny_inputs, tiny_base_model, tmp_path
):
    examples, schema = tiny_inputs
    output_dict = outputs(tmp_path)
    inputs = {"examples": [examples], "schema": [schema], "base_model": [tiny_base_model]}
    properties = component_exec_properties(clustering=ClusteringParams(clusters=4, epochs=1))
    executor.Executor().Do(inputs, output_dict, properties)

    model = output_dict["model"][0]
    with open(os.path.join(model.uri, model_artifact.SPARSITY_FILE)) as f:
        report = json.load(f)
    assert sorted(report["distinct_values"]) == PRUNED
    assert all(count <= 4 for count in report["distinct_values"].values())
    assert report["layers"]["dense1"]["sparsity"] >= 0.9 - 0.01
    keras_model = model_artifact.load_model(model.uri)
    kernel = keras_model.get_layer("dense1").kernel.numpy()
    assert len(set(kernel.ravel().tolist())) == report["distinct_values"]["dense1"]
    assert model.get_int_custom_property("clusters") == 4
    assert model.get_float_custom_property("sparsity") == pytest.approx(report["overall"])


FILTERS = FilterParams(filter_sparsity=(("conv1", 0.5), ("conv3", 0.75), ("dense1", 0.5)),
                       epochs=2, frequency=1, teacher_weight=0.5)


@pytest.fixture(scope="module")
def narrowed(tiny_inputs, tiny_base_model, tmp_path_factory):
    examples, schema = tiny_inputs
    output_dict = outputs(tmp_path_factory.mktemp("narrowed_root"))
    inputs = {"examples": [examples], "schema": [schema], "base_model": [tiny_base_model]}
    executor.Executor().Do(inputs, output_dict, component_exec_properties(filters=FILTERS))
    return inputs, output_dict


def test_structured_pruning_writes_the_narrowed_model_then_prunes_its_weights(narrowed):
    _, output_dict = narrowed
    model = output_dict["model"][0]
    keras_model = model_artifact.load_model(model.uri)
    # TINY_MODEL is conv 8/16/16, dense1 16: half of conv1, a quarter of conv3, half of dense1.
    widths = {name: keras_model.get_layer(name).kernel.shape[-1]
              for name in ("conv1", "conv2", "conv3", "dense1")}
    assert widths == {"conv1": 4, "conv2": 16, "conv3": 4, "dense1": 8}
    assert keras_model.get_layer("conv2").kernel.shape[2] == 4  # its inputs narrowed too
    # The layers that lost channels, as many as they kept.
    assert model.get_string_custom_property("kept_channels") == "conv1:4,conv3:4,dense1:8"
    assert model.get_int_custom_property("num_parameters") == keras_model.count_params()
    with open(os.path.join(model.uri, model_artifact.SPARSITY_FILE)) as f:
        report = json.load(f)
    assert report["kept_channels"] == {"conv1": 4, "conv3": 4, "dense1": 8}
    kernel = keras_model.get_layer("dense1").kernel.numpy()
    assert kernel.shape == (5 * 5 * 4, 8)  # conv3's 5x5 positions x its 4 channels left
    assert (kernel == 0).mean() == pytest.approx(0.9, abs=0.02)


def test_warm_start_continues_the_narrowed_model_without_removing_filters_again(
        narrowed, tmp_path, monkeypatch):
    inputs, earlier = narrowed

    def no_masked_run(*args, **kwargs):
        raise AssertionError("a warm start removed filters again")

    monkeypatch.setattr(filters, "prune_filters", no_masked_run)
    output_dict = outputs(tmp_path)
    executor.Executor().Do({**inputs, "warmup_checkpoint": [earlier["checkpoint"][0]]},
                           output_dict, component_exec_properties(filters=FILTERS))

    model, ckpt = output_dict["model"][0], output_dict["checkpoint"][0]
    assert model.get_int_custom_property("warm_started") == 1
    assert model.get_string_custom_property("kept_channels") == "conv1:4,conv3:4,dense1:8"
    assert ckpt.get_int_custom_property("optimizer_iterations") == 2 * EPOCHS * STEPS_PER_EPOCH


def test_progress_phases_are_prune_models_checkpoint_directories():
    assert (progress.FILTERS_PHASE, progress.WEIGHTS_PHASE) == (prune.FILTERS_DIR,
                                                                prune.WEIGHTS_DIR)
    assert progress.epoch_done("weights", 3, 30) == "PruneTrainer: weights epoch 3/30 done"
