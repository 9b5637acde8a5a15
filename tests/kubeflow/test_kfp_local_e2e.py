"""The step image built from kubeflow/Dockerfile and the whole compiled spec run by KFP's own
local engine (`kfp.local`, DockerRunner): what `make kfp-image` and `make kfp-local` do.

Checked by content, outside the containers: the Examples hold MNIST's images, the pushed model
serves tf.Examples with the accuracy the CompressExporter's report states, and the TFLite files
in the `compressed` artifact give, in LiteRT run here, the sizes and accuracies the report
measured.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf

from kubeflow import image, local
from pipelines import configs, nodes
from tests.kubeflow.support import clean_environ
from tests.support import idx_arrays, litert_correct

pytestmark = pytest.mark.e2e
IMAGE = "tfx-pruning-pipeline:e2e"
EXAMPLE_LIMIT = 1000
# The default model and recipe on a small budget (about 85 s of containers), gate open.
BUDGET = {"EXAMPLE_LIMIT": str(EXAMPLE_LIMIT), "BATCH_SIZE": "32", "TRAIN_EPOCHS": "2",
          "PRUNE_EPOCHS": "3", "PRUNE_FILTER_EPOCHS": "1", "PRUNE_FREQUENCY": "10",
          "PRUNE_FILTER_FREQUENCY": "10",
          "REPRESENTATIVE_EXAMPLES": "8", "LATENCY_RUNS": "3",
          "EVAL_MIN_ACCURACY": "0", "EVAL_MAX_ACCURACY_DROP": "1"}
TASKS = nodes.ALL  # in DAG order


@pytest.fixture(scope="session")
def step_image(docker_daemon) -> str:
    """kubeflow/Dockerfile built as `make kfp-image` builds it (its layers cached by Docker
    between sessions)."""
    image.build(IMAGE, image.resolve_base(docker_daemon, None))
    return IMAGE


@pytest.fixture(scope="session")
def kfp_run(step_image, docker_daemon, mnist_manual_dir, tmp_path_factory):
    """One run of the compiled spec through kfp.local on a small budget, gate open."""
    root = tmp_path_factory.mktemp("kfp_local")
    config = configs.load_config([], environ=clean_environ(
        **BUDGET, PIPELINE_ROOT=str(root / "root"), TFDS_MANUAL_DIR=str(mnist_manual_dir),
        KFP_IMAGE=step_image))
    storage = local.local_storage(config, "mnist-pruning")
    spec = local.compile_for_local(config, str(root / "spec"))
    user = image.image_user(image.require_image(docker_daemon, step_image))
    run = local.run_compiled(spec, storage, step_image, user)
    return run, storage, user


def _eval_examples(run: local.LocalRun) -> list[bytes]:
    split = os.path.join(run.outputs("TfdsExampleGen")["examples"]["uri"], "Split-eval")
    files = sorted(os.path.join(split, name) for name in os.listdir(split))
    return list(tf.data.TFRecordDataset(files, compression_type="GZIP").as_numpy_iterator())


def _pixels_and_labels(serialized: list[bytes]) -> tuple[np.ndarray, np.ndarray]:
    examples = [tf.train.Example.FromString(s) for s in serialized]
    pixels = np.array([e.features.feature["image"].int64_list.value for e in examples], np.uint8)
    labels = np.array([e.features.feature["label"].int64_list.value[0] for e in examples])
    return pixels, labels


def test_every_task_of_the_spec_ran_in_dag_order_and_succeeded(kfp_run):
    run, _, _ = kfp_run
    assert [(t.task, t.state) for t in run.tasks] == [(task, "SUCCESS") for task in TASKS]
    assert set(TASKS) <= set(os.listdir(run.run_dir))  # named after their components
    formatted = local.format_run(run)
    assert "9 of 9 tasks succeeded" in formatted
    assert f"Pushed model: {run.pushed_model()}" in formatted
    summary = run.report()["summary"]
    assert f"pruned {summary['pruned_accuracy']:.2%}" in formatted


def test_every_step_ran_as_the_images_unprivileged_user(kfp_run):
    run, _, user = kfp_run
    assert user is not None and user[0] > 0
    if os.geteuid() == 0:  # else the steps ran as this test's own user
        owners = {os.stat(run.task_dir(task)).st_uid for task in TASKS}
        assert owners == {user[0]}


def test_the_examples_hold_mnist_by_content(kfp_run, mnist_manual_dir, fashion_mnist_manual_dir):
    run, _, _ = kfp_run
    pixels, labels = _pixels_and_labels(_eval_examples(run))
    assert len(pixels) == EXAMPLE_LIMIT

    def labels_by_digest(manual_dir):
        images, image_labels = idx_arrays(manual_dir, "t10k")
        return {hashlib.sha256(row.tobytes()).digest(): int(label)
                for row, label in zip(images, image_labels, strict=True)}

    mnist, fashion = labels_by_digest(mnist_manual_dir), labels_by_digest(fashion_mnist_manual_dir)
    digests = [hashlib.sha256(row.tobytes()).digest() for row in pixels]
    assert all(mnist.get(d) == label for d, label in zip(digests, labels, strict=True))
    assert not any(d in fashion for d in digests)


def test_the_pushed_model_is_the_pruned_one_and_serves_the_reports_accuracy(kfp_run):
    from components import model_artifact
    from pruning import data

    run, storage, _ = kfp_run
    pushed = run.pushed_model()
    assert pushed.startswith(storage["serving_model_dir"] + os.sep)
    serialized = _eval_examples(run)
    pixels, labels = _pixels_and_labels(serialized)
    serve = tf.saved_model.load(pushed).signatures["serving_default"]
    scores = serve(examples=tf.constant(serialized))["scores"].numpy()
    # The PruneTrainer's own Keras model, read from its artifact: the same predictions.
    pruned = model_artifact.load_model(run.outputs("PruneTrainer")["model"]["uri"])
    images = data.model_inputs(np.asarray(pixels, np.float32) / 255.0, pruned.input_shape)
    logits = pruned(images, training=False).numpy()
    np.testing.assert_allclose(scores, tf.nn.softmax(logits).numpy(), atol=1e-5)
    correct = int(np.sum(np.argmax(scores, axis=1) == labels))
    report = run.report()
    assert report["summary"]["blessed"] is True and report["num_eval_examples"] == len(labels)
    assert correct == round(report["summary"]["pruned_accuracy"] * len(labels))
    with open(os.path.join(pushed, "pruned_int8.tflite"), "rb") as f:
        compressed = run.outputs("CompressExporter")["compressed"]["uri"]
        with open(os.path.join(compressed, "pruned_int8.tflite"), "rb") as g:
            assert f.read() == g.read()


def test_the_tflite_files_are_the_ones_the_report_measured(kfp_run):
    run, _, _ = kfp_run
    compressed = run.outputs("CompressExporter")["compressed"]
    pixels, labels = _pixels_and_labels(_eval_examples(run))
    measured = [entry for entry in run.report()["files"] if entry["file"].endswith(".tflite")]
    assert {entry["file"] for entry in measured} >= {"pruned_int8.tflite", "baseline_int8.tflite"}
    for entry in measured:
        with open(os.path.join(compressed["uri"], entry["file"]), "rb") as f:
            content = f.read()
        assert len(content) == entry["raw_bytes"], entry["file"]
        assert litert_correct(content, pixels / 255.0, labels) == round(
            entry["accuracy"] * len(labels)), entry["file"]
    # The artifact's properties (what a cluster's ML Metadata records) are the report's.
    summary = run.report()["summary"]
    assert compressed["metadata"]["raw_bytes_pruned_int8_tflite"] == summary[
        "raw_bytes_pruned_int8_tflite"]


def test_the_step_image_keeps_what_the_compiler_built_and_not_the_compiler(step_image,
                                                                          docker_daemon):
    script = ("import farmhash, shutil; print(farmhash.hash64('mnist'), "
              "[tool for tool in ('g++', 'gcc', 'cc') if shutil.which(tool)])")
    out = docker_daemon.containers.run(step_image, ["python", "-c", script], remove=True,
                                       network_mode="none").decode().split(" ", 1)
    assert int(out[0]) > 0 and out[1].strip() == "[]"


def test_an_image_not_built_is_named_with_the_command_that_builds_it(docker_daemon, tmp_path):
    environ = clean_environ(KFP_IMAGE="tfx-pruning-pipeline:not-built",
                            TFDS_MANUAL_DIR=str(tmp_path), PIPELINE_ROOT=str(tmp_path / "r"))
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "kubeflow.local"], env=environ, text=True,
                          capture_output=True, timeout=30, cwd=configs.PROJECT_ROOT)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "kfp-local: error: image tfx-pruning-pipeline:not-built is not built on this machine's "
        "Docker: build it with `make kfp-image KFP_IMAGE=tfx-pruning-pipeline:not-built`"]
    assert time.monotonic() - started < 15
