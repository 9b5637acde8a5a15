"""On the real MNIST files (../shared/data/mnist); skipped without them.

Also proves the documented `tfx` CLI flow: `tfx pipeline create` + `tfx run create` with the
local engine, on a small example limit.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from pipelines import configs, metadata, outputs
from pruning import architecture

pytestmark = pytest.mark.integration


def test_full_mnist_converts_to_60000_train_and_10000_eval(
    run_example_gen, prepared_data_dir, mnist_manual_dir
):
    # Multi-processing Beam: worker processes, which TFDS's mock_data could not reach.
    beam_args = configs.load_config(
        [], environ={"BEAM_RUNNING_MODE": "multi_processing"}
    ).beam_pipeline_args
    examples = run_example_gen(
        beam_args=beam_args, data_dir=prepared_data_dir, manual_dir=str(mnist_manual_dir)
    )

    properties = examples.mlmd_artifact.custom_properties
    assert properties["num_examples_train"].int_value == 60_000
    assert properties["num_examples_eval"].int_value == 10_000
    assert properties["tfds_version"].string_value == "3.0.1"
    from tests.support import read_split

    eval_examples = read_split(examples, "eval")
    assert len(eval_examples) == 10_000
    labels = [e.features.feature["label"].int64_list.value[0] for e in eval_examples]
    assert sorted(set(labels)) == list(range(10))
    # MNIST's test set has 1,135 ones (the most frequent class).
    assert labels.count(1) == 1_135


def test_tfx_cli_creates_and_runs_the_local_pipeline(
    tmp_path, prepared_data_dir, mnist_manual_dir
):
    env = {
        **os.environ,
        "LOCAL_HOME": str(tmp_path / "tfx_home"),  # where `tfx pipeline create` registers it
        "PIPELINE_NAME": "cli_e2e",
        "PIPELINE_ROOT": str(tmp_path / "root"),
        "TFDS_DATA_DIR": prepared_data_dir,
        "TFDS_MANUAL_DIR": str(mnist_manual_dir),
        "EXAMPLE_LIMIT": "200",
        "BEAM_RUNNING_MODE": "in_memory",
        "TRAIN_EPOCHS": "1",
        "PRUNE_EPOCHS": "2",
        "BATCH_SIZE": "50",
        "PRUNE_FREQUENCY": "1", "PRUNE_FILTER_FREQUENCY": "1",
        "LATENCY_RUNS": "10",
        "SERVING_MODEL_DIR": str(tmp_path / "serving"),
    }
    tfx_cli = [str(Path(sys.executable).parent / "tfx")]  # the console script the README shows
    runner = str(configs.PROJECT_ROOT / "pipelines" / "local_runner.py")

    def tfx(*args):
        done = subprocess.run([*tfx_cli, *args], env=env, capture_output=True, text=True,
                              timeout=600)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        return done.stdout + done.stderr

    tfx("pipeline", "create", "--engine", "local", "--pipeline_path", runner)
    log = tfx("run", "create", "--engine", "local", "--pipeline_name", "cli_e2e")
    # What the user reads: every component's progress, and no error or download in a run that
    # succeeded (TensorFlow's cuInit error on a machine without a GPU, Beam's Prism download).
    assert "pipeline: [9/9] Pusher done in " in log, log[-3000:]
    noise = [line for line in log.splitlines()
             if " ERROR " in line or line.startswith("E0000") or "cuInit" in line
             or "Downloading" in line or "Traceback" in line]
    assert noise == [], noise

    store_path = str(tmp_path / "root" / "metadata.sqlite")
    rows = outputs.newest_outputs(store_path, "cli_e2e")
    assert {r.node_id: r.state for r in rows} == {
        "TfdsExampleGen": "COMPLETE",
        "StatisticsGen": "COMPLETE",
        "SchemaGen": "COMPLETE",
        "ExampleValidator": "COMPLETE",
        "Trainer": "COMPLETE",
        "PruneTrainer": "COMPLETE",
        "Evaluator": "COMPLETE",
        "CompressExporter": "COMPLETE",
        "Pusher": "COMPLETE",
    }
    store = metadata.open_sqlite(store_path)
    [examples] = store.get_artifacts_by_type("Examples")
    assert examples.custom_properties["num_examples_train"].int_value == 200
    pruned = [m for m in store.get_artifacts_by_type("Model") if "/PruneTrainer/" in m.uri]
    assert pruned[0].custom_properties["num_eval_examples"].int_value == 200
    # Structured pruning is on by default: the narrowed shape (conv1 8, conv2 32, conv3 8
    # filters, dense1 24 units), weight-pruned to the narrowed model's default targets
    # (44.4 % of its prunable weights).
    default = configs.load_config([], environ={})
    kept = architecture.kept_channels(default.model_params, default.filter_params)
    assert kept == {"conv1": 8, "conv2": 32, "conv3": 8, "dense1": 24}
    assert pruned[0].custom_properties["kept_channels"].string_value == ",".join(
        f"{name}:{width}" for name, width in kept.items())
    assert 0.43 < pruned[0].custom_properties["sparsity"].double_value < 0.48
    # One epoch on 200 examples is far below the 0.98 gate: not blessed, so nothing pushed.
    [blessing] = store.get_artifacts_by_type("ModelBlessing")
    assert blessing.custom_properties["blessed"].int_value == 0
    [pushed] = store.get_artifacts_by_type("PushedModel")
    assert pushed.custom_properties["pushed"].int_value == 0
    assert not (tmp_path / "serving").exists()
