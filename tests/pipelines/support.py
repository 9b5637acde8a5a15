"""Helpers and constants the tests of tests/pipelines/ share (their fixtures: conftest.py)."""

from __future__ import annotations

import dataclasses

from components import properties
from pipelines import configs, metadata, nodes, outputs

# At most this many examples of each split: the first ones of TFDS's train and test files.
EXAMPLE_LIMIT = 600


# A small model and short runs: these tests check wiring and records, not accuracy.
TINY_TRAINING = {
    "MODEL_WIDTH": "8", "DENSE_UNITS": "32", "TRAIN_EPOCHS": "2", "PRUNE_EPOCHS": "2",
    "BATCH_SIZE": "32", "LEARNING_RATE": "0.01", "PRUNE_FREQUENCY": "1",
    "PRUNE_FILTER_FREQUENCY": "1", "CLUSTER_COUNT": "4",
    "REPRESENTATIVE_EXAMPLES": "8", "LATENCY_RUNS": "3",
    # Structured pruning (the default recipe, set here because MODEL_WIDTH is not the default),
    # so the narrowed model goes through every node.
    "PRUNE_FILTER_SPARSITY": "conv1:0.75,conv2:0.625,conv3:0.625,dense1:0.8125",
    # A gate every model passes: run 3 sets the one it fails.
    "EVAL_MIN_ACCURACY": "0", "EVAL_MAX_ACCURACY_DROP": "1",
}


def make_config(tmp_path, manual_dir, data_dir, **overrides) -> configs.PipelineConfig:
    environ = {
        "PIPELINE_NAME": "e2e",
        "PIPELINE_ROOT": str(tmp_path / "root"),
        "SERVING_MODEL_DIR": str(tmp_path / "serving"),
        "TFDS_DATA_DIR": str(data_dir),
        "TFDS_MANUAL_DIR": str(manual_dir),
        "EXAMPLE_LIMIT": str(EXAMPLE_LIMIT),
        **TINY_TRAINING,
        **overrides,
    }
    return configs.load_config([], environ=environ)


def node_states(config) -> dict[str, str]:
    rows = outputs.newest_outputs(config.metadata_path, config.pipeline_name)
    return {row.node_id: row.state for row in rows}


def node_artifacts(config) -> dict[tuple[str, str], outputs.NodeOutput]:
    rows = outputs.newest_outputs(config.metadata_path, config.pipeline_name)
    return {(row.node_id, row.output_key): row for row in rows}


def recorded_accuracy(config, output: nodes.Output) -> float:
    store = metadata.open_sqlite(config.metadata_path)
    artifact = metadata.newest_output(store, config.pipeline_name, output)
    return metadata.scalar_properties(artifact)[properties.TEST_ACCURACY]


@dataclasses.dataclass
class GatedRuns:
    config: configs.PipelineConfig  # the permissive gate: runs 1 and 2
    strict: configs.PipelineConfig  # run 3: a floor the pruned model passes, a drop it fails
    baseline_accuracy: float  # as the Trainer recorded it
    pruned_accuracy: float  # as the PruneTrainer recorded it
    states: list[dict[str, str]]  # each node's newest execution state after each run
    artifacts: list[dict]  # (node, output key) -> NodeOutput after each run
    summaries: list[str]  # `make run`'s closing summary after each run
    network_attempts: list[str]  # what the runs tried to reach off this machine (support.py)
    progress: list[list[str]]  # each run's progress lines (pipelines/progress.py)
