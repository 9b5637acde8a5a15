"""The small local pipeline on real MNIST, run three times (fresh, cached, a gate it fails), once
per session.

Real data, not TFDS's mock data: mock data yields the same examples for train and test, which
hides data bugs and makes an untrained model look trained. The e2e tests and the lineage CLI
tests both read this run's ML Metadata store, so its pipeline runs are paid once."""

from __future__ import annotations

import io
import logging

import pytest
from tfx.orchestration.local.local_dag_runner import LocalDagRunner

from pipelines import nodes, outputs, progress
from pipelines.pipeline import create_pipeline
from tests.pipelines.support import (
    GatedRuns,
    make_config,
    node_artifacts,
    node_states,
    recorded_accuracy,
)
from tests.support import network_guard


@pytest.fixture(scope="session")
def gated_runs(tmp_path_factory, mnist_manual_dir, prepared_data_dir) -> GatedRuns:
    root = tmp_path_factory.mktemp("gated_runs")
    config = make_config(root, mnist_manual_dir, prepared_data_dir)
    runs = GatedRuns(config, config, 0.0, 0.0, [], [], [], [], [])

    def run(run_config):
        pipeline = create_pipeline(run_config)
        lines = io.StringIO()  # what `make run` prints, from the same handler
        handler = progress.report_components([c.id for c in pipeline.components], lines)
        try:
            with network_guard() as attempts:
                LocalDagRunner().run(pipeline)
        finally:
            logging.getLogger("absl").removeHandler(handler)
        runs.network_attempts += attempts
        runs.progress.append(lines.getvalue().splitlines())
        runs.states.append(node_states(run_config))
        runs.artifacts.append(node_artifacts(run_config))
        runs.summaries.append(
            outputs.format_summary(run_config.metadata_path, run_config.pipeline_name))

    run(config)
    run(config)
    runs.baseline_accuracy = recorded_accuracy(config, nodes.BASELINE_MODEL)
    runs.pruned_accuracy = recorded_accuracy(config, nodes.PRUNED_MODEL)
    drop = runs.baseline_accuracy - runs.pruned_accuracy
    assert drop >= 0.01, (
        f"The gate test needs a pruned model below its baseline; got {runs.pruned_accuracy} "
        f"against {runs.baseline_accuracy}: make TINY_TRAINING prune harder")
    runs.strict = make_config(root, mnist_manual_dir, prepared_data_dir,
                              EVAL_MIN_ACCURACY=str(runs.pruned_accuracy - 0.05),
                              EVAL_MAX_ACCURACY_DROP=str(round(drop / 2, 4)))
    run(runs.strict)
    return runs
