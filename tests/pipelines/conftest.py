"""The small local pipeline run three times (fresh, cached, stricter gate), once per session.

The e2e tests and the lineage CLI tests both read its ML Metadata store, so the ~40 s of pipeline
runs are paid once.
"""

from __future__ import annotations

import dataclasses

import pytest
import tensorflow_datasets as tfds
from tfx import v1 as tfx

from pipelines import configs, outputs
from pipelines.pipeline import create_pipeline
from tests.conftest import MNIST_FILES

NUM_MOCK_EXAMPLES = 16
# A tiny model and short runs: these tests check wiring and records, not accuracy.
TINY_TRAINING = {
    "MODEL_WIDTH": "8", "DENSE_UNITS": "16", "TRAIN_EPOCHS": "1", "PRUNE_EPOCHS": "2",
    "BATCH_SIZE": "4", "PRUNE_FREQUENCY": "1", "CLUSTER_COUNT": "4", "REPRESENTATIVE_EXAMPLES": "8",
    "LATENCY_RUNS": "3",
    # Untrained tiny models: bless whatever they score unless a test asks for the real gate.
    "EVAL_MIN_ACCURACY": "0", "EVAL_MAX_ACCURACY_DROP": "1",
}


def make_config(tmp_path, manual_dir, **overrides) -> configs.PipelineConfig:
    environ = {
        "PIPELINE_NAME": "e2e",
        "PIPELINE_ROOT": str(tmp_path / "root"),
        "SERVING_MODEL_DIR": str(tmp_path / "serving"),
        "TFDS_DATA_DIR": str(tmp_path / "tfds"),
        "TFDS_MANUAL_DIR": manual_dir,
        "BEAM_RUNNING_MODE": "in_memory",  # mock_data patches this process only
        **TINY_TRAINING,
        **overrides,
    }
    return configs.load_config([], environ=environ)


def node_states(config) -> dict[str, str]:
    rows = outputs.newest_outputs(config.resolved_metadata_path, config.pipeline_name)
    return {row.node_id: row.state for row in rows}


def node_artifacts(config) -> dict[tuple[str, str], outputs.NodeOutput]:
    rows = outputs.newest_outputs(config.resolved_metadata_path, config.pipeline_name)
    return {(row.node_id, row.output_key): row for row in rows}


@dataclasses.dataclass
class GatedRuns:
    config: configs.PipelineConfig  # permissive gate: runs 1 and 2
    strict: configs.PipelineConfig  # EVAL_MIN_ACCURACY=1.0: run 3
    states: list[dict[str, str]]  # each node's newest execution state after each run
    artifacts: list[dict]  # (node, output key) -> NodeOutput after each run
    summaries: list[str]  # `make run`'s closing summary after each run


@pytest.fixture(scope="session")
def gated_runs(tmp_path_factory) -> GatedRuns:
    root = tmp_path_factory.mktemp("gated_runs")
    manual = root / "manual"
    manual.mkdir()
    for name in MNIST_FILES:
        (manual / name).write_bytes(b"")  # content is irrelevant under mock_data
    config = make_config(root, str(manual))
    strict = make_config(root, str(manual), EVAL_MIN_ACCURACY="1.0")
    runs = GatedRuns(config, strict, [], [], [])
    for run_config in (config, config, strict):
        with tfds.testing.mock_data(num_examples=NUM_MOCK_EXAMPLES):
            tfx.orchestration.LocalDagRunner().run(create_pipeline(run_config))
        runs.states.append(node_states(run_config))
        runs.artifacts.append(node_artifacts(run_config))
        runs.summaries.append(
            outputs.format_summary(run_config.resolved_metadata_path, run_config.pipeline_name))
    return runs
