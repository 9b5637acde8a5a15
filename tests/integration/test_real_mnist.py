"""On the real MNIST files (../shared/data/mnist); skipped without them.

Also proves the documented `tfx` CLI flow: `tfx pipeline create` + `tfx run create` with the
local engine, on a small example limit.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from pipelines import configs, metadata, nodes, outputs
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


@pytest.fixture(scope="module")
def cli_run(tmp_path_factory, prepared_data_dir, mnist_manual_dir) -> tuple[dict, Path, str]:
    """(environment, temporary directory, output) of `tfx pipeline create` and `tfx run create`
    with the local engine, on 200 examples."""
    tmp_path = tmp_path_factory.mktemp("cli")
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
    return env, tmp_path, tfx("run", "create", "--engine", "local", "--pipeline_name", "cli_e2e")


def test_tfx_cli_creates_and_runs_the_local_pipeline(cli_run):
    _, tmp_path, log = cli_run
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
    narrowed = architecture.narrowed_layers(architecture.prunable_layers(default.model_params),
                                            default.filter_params.filter_sparsity)
    kept = {spec.name: spec.kernel_shape[-1] for spec in narrowed[:-1]}
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


# What a seed decides: the exporter's accuracies, sparsities, file and TFLite Micro sizes and
# agreement, and each trainer's accuracy. Not its timings, nor LiteRT's heap (`memory_bytes_*`),
# which the allocator decides.
SEEDED_FIGURES = re.compile("^(?!memory_bytes).*(accuracy|bytes|sparsity|agreement)")


def _executions_figures(store, pipeline_name: str, output: nodes.Output) -> list[dict]:
    """The seeded figures of `output` from each execution of its node, oldest first."""
    found = []
    for execution in metadata.node_executions(store, pipeline_name)[output.node]:
        [event] = [e for e in store.get_events_by_execution_ids([execution.id])
                   if e.type == e.OUTPUT and metadata.output_key(e) == output.key]
        [artifact] = store.get_artifacts_by_id([event.artifact_id])
        found.append({key: value for key, value in metadata.scalar_properties(artifact).items()
                      if SEEDED_FIGURES.search(key)})
    return found


def test_a_second_run_with_the_same_seed_repeats_every_figure(cli_run):
    """The same options again in a new process, the cache off: the seed reaches every random
    source (weights, shuffling, augmentation, dropout, calibration), so both trainers and the
    exporter record the same figures as the first run's."""
    env, tmp_path, _ = cli_run
    done = subprocess.run([sys.executable, "-m", "pipelines.local_runner"],
                          env={**env, "ENABLE_CACHE": "false"}, capture_output=True, text=True,
                          timeout=600, cwd=configs.PROJECT_ROOT)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]

    store = metadata.open_sqlite(str(tmp_path / "root" / "metadata.sqlite"))
    for output in (nodes.BASELINE_MODEL, nodes.PRUNED_MODEL, nodes.COMPRESSED):
        first, second = _executions_figures(store, "cli_e2e", output)
        assert any("accuracy" in key for key in first), first
        assert second == first, output.node
