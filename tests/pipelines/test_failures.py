"""Faults inside custom components under LocalDagRunner, on the small real-MNIST pipeline.

Run 1: the PruneTrainer fails while writing its model (half of it on disk). Run 2: the
CompressExporter's disk fills up while it copies its files to the artifact (`ENOSPC`, injected
at the write: a real full disk is impractical here). Run 3: nothing injected. After each: the
failed execution is recorded FAILED, none of its outputs is published, `prune-lineage` shows the
failure, and the next run executes the failed component again instead of picking anything of it
up.
"""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path

import pytest
from ml_metadata.proto import metadata_store_pb2
from tfx.orchestration.local.local_dag_runner import LocalDagRunner

from components import model_artifact
from components.compress_exporter import executor as exporter_executor
from components.prune_trainer import executor as prune_executor
from pipelines import metadata, nodes
from pipelines.lineage import cli
from pipelines.lineage.queries import Lineage
from pipelines.lineage.store import LineageError
from pipelines.pipeline import create_pipeline
from tests.pipelines.support import make_config

pytestmark = [pytest.mark.e2e, pytest.mark.integration]


class _FailingModelArtifact:
    """`components.model_artifact` as the PruneTrainer's executor sees it, with a `write_model`
    that writes part of the model and fails (the Trainer keeps the real module)."""

    def __getattr__(self, name):
        return getattr(model_artifact, name)

    @staticmethod
    def write_model(uri, *args, **kwargs):
        with open(os.path.join(uri, "half_written.bin"), "wb") as f:
            f.write(b"\0" * 1024)
        raise RuntimeError("injected: the PruneTrainer fails while writing its model")


def _disk_full_copy(source, destination):
    os.makedirs(destination, exist_ok=True)
    with open(os.path.join(destination, "half_written.bin"), "wb") as f:
        f.write(b"\0" * 1024)
    raise OSError(errno.ENOSPC, "No space left on device", destination)


def _snapshot(config, serving) -> dict:
    store = metadata.open_sqlite(config.metadata_path)
    found = metadata.node_executions(store, config.pipeline_name)
    failed = [e for executions in found.values() for e in executions
              if e.last_known_state == metadata_store_pb2.Execution.FAILED]
    events = store.get_events_by_execution_ids([e.id for e in failed])
    outputs_of_failed = store.get_artifacts_by_id(
        [e.artifact_id for e in events if e.type == metadata_store_pb2.Event.OUTPUT])
    return {
        "newest": {node: metadata.execution_state(e[-1]) for node, e in found.items()},
        "ids": {node: [e.id for e in executions] for node, executions in found.items()},
        "failed_ids": {e.id for e in failed},
        "live_outputs_of_failed": [a.uri for a in outputs_of_failed
                                   if a.state == metadata_store_pb2.Artifact.LIVE],
        "pushed": serving.is_dir() and any(serving.iterdir()),
        "latest_tflite": _resolved(store, "latest:tflite"),
        # The one rule for "newest" (what make bench reads): published outputs only.
        "newest_compressed": getattr(metadata.newest_output(
            store, config.pipeline_name, nodes.COMPRESSED), "id", None),
        "newest_pruned_model": getattr(metadata.newest_output(
            store, config.pipeline_name, nodes.PRUNED_MODEL), "id", None),
        "half_written_files": sorted(Path(config.pipeline_root).rglob(
            "half_written.bin")),
    }


def _resolved(store, reference: str) -> int | str:
    """The artifact id prune-lineage resolves `reference` to, or its one-line refusal."""
    try:
        return Lineage(store).resolve(reference).id
    except LineageError as error:
        return str(error)


def _lineage(config, capsys, *args) -> tuple[int, str, str]:
    code = cli.main(["--sqlite", config.metadata_path, *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture(scope="module")
def failures(tmp_path_factory, mnist_manual_dir, prepared_data_dir):
    root = tmp_path_factory.mktemp("failures")
    config = make_config(root, mnist_manual_dir, prepared_data_dir, PIPELINE_NAME="failures",
                         EXAMPLE_LIMIT="300")
    snapshots, errors = [], []
    injections = [(prune_executor, "model_artifact", _FailingModelArtifact()),
                  (exporter_executor.io_utils, "copy_dir", _disk_full_copy), None]
    for injection in injections:
        with pytest.MonkeyPatch.context() as patch:
            if injection:
                patch.setattr(*injection)
            try:
                LocalDagRunner().run(create_pipeline(config))
                errors.append(None)
            except Exception as error:  # what the runner raises for the failed component
                errors.append(error)
        snapshots.append(_snapshot(config, root / "serving"))
    return config, snapshots, errors


def test_a_failed_prune_trainer_is_recorded_and_publishes_nothing(failures):
    _, snapshots, errors = failures
    first = snapshots[0]
    assert "injected: the PruneTrainer fails while writing its model" in str(errors[0])
    assert first["newest"][nodes.PRUNE_TRAINER] == "FAILED"
    assert first["live_outputs_of_failed"] == []
    # Nothing downstream ran, nothing was pushed.
    assert not {nodes.EVALUATOR, nodes.COMPRESS_EXPORTER, nodes.PUSHER} & set(first["ids"])
    assert not first["pushed"]
    assert first["half_written_files"] == []  # TFX emptied the failed execution's outputs


def test_prune_lineage_shows_the_failures(failures, capsys):
    config = failures[0]
    code, out, _ = _lineage(config, capsys, "--json", "runs")
    runs = json.loads(out)
    assert code == 0 and [run["state"] for run in runs] == ["FAILED", "FAILED", "COMPLETE"]
    assert runs[0]["components"][nodes.PRUNE_TRAINER] == "FAILED"
    assert runs[1]["components"][nodes.COMPRESS_EXPORTER] == "FAILED"


def test_the_next_run_executes_the_failed_component_again(failures):
    _, snapshots, _ = failures
    first, second = snapshots[0], snapshots[1]
    # Run 2: everything upstream of the PruneTrainer from the cache, the PruneTrainer anew.
    for node in (nodes.EXAMPLE_GEN, nodes.STATISTICS_GEN, nodes.SCHEMA_GEN,
                 nodes.EXAMPLE_VALIDATOR, nodes.TRAINER):
        assert second["newest"][node] == "CACHED", node
    assert second["newest"][nodes.PRUNE_TRAINER] == "COMPLETE"
    assert second["ids"][nodes.PRUNE_TRAINER][-1] not in first["failed_ids"]


def test_a_full_disk_fails_the_exporter_and_publishes_nothing(failures):
    _, snapshots, errors = failures
    second = snapshots[1]
    assert "No space left on device" in str(errors[1])
    assert second["newest"][nodes.COMPRESS_EXPORTER] == "FAILED"
    assert nodes.PUSHER not in second["ids"]
    assert second["live_outputs_of_failed"] == []
    assert not second["pushed"]
    assert second["half_written_files"] == []
    assert second["latest_tflite"] == "latest:tflite: no Model from CompressExporter in this store"
    # The failed exporter's output is nobody's newest; the PruneTrainer's published model is.
    assert second["newest_compressed"] is None
    assert snapshots[0]["newest_pruned_model"] is None
    assert second["newest_pruned_model"] is not None


def test_after_the_failures_a_clean_run_pushes_and_its_lineage_has_none_of_them(
        failures, capsys):
    config, snapshots, errors = failures
    third = snapshots[2]
    assert errors[2] is None
    assert third["newest"][nodes.PRUNE_TRAINER] == "CACHED"  # run 2's, which completed
    assert third["newest"][nodes.COMPRESS_EXPORTER] == "COMPLETE"
    assert third["newest"][nodes.PUSHER] == "COMPLETE"
    code, out, _ = _lineage(config, capsys, "--json", "lineage", "latest:pushed")
    assert code == 0
    executions = json.loads(out)["executions"]
    assert {e["node"] for e in executions.values()} >= {
        nodes.EXAMPLE_GEN, nodes.TRAINER, nodes.PRUNE_TRAINER, nodes.COMPRESS_EXPORTER}
    assert {e["state"] for e in executions.values()} == {"COMPLETE"}
    assert not {int(i) for i in executions} & third["failed_ids"]
    assert third["pushed"]
