"""A pipeline's newest outputs from ML Metadata: what `make run` prints at the end."""

from __future__ import annotations

import dataclasses
import os

from ml_metadata.proto import metadata_store_pb2

from components import properties
from pipelines import metadata, stores
from pruning.compression import report

F = report.FIGURE
# The exporter's figures worth a glance at the end of a run: the deployed file's accuracy, size,
# ratio and speed, the micro file's flash and arena, and the Evaluator's verdict.
RUN_FIGURES = (F.int8_tflite_accuracy, F.gzip_bytes_pruned_int8_tflite, F.compression_ratio,
               F.latency_ms_pruned_int8, F.flash_bytes_micro, F.arena_bytes_micro, F.blessed)
# Custom properties shown at the end of a run, in this order: where the baseline came from, the
# trainers' figures, the exporter's (RUN_FIGURES), the push.
FIGURES = tuple(dict.fromkeys((
    properties.MODEL_MODULE, properties.IMPORTED_FROM, properties.TEST_ACCURACY,
    properties.TEST_LOSS, properties.KEPT_CHANNELS, properties.SPARSITY, properties.CLUSTERS,
    properties.NUM_PARAMETERS, properties.RESUMED_FROM_EPOCH, properties.BLESSED,
    *RUN_FIGURES, properties.PUSHED)))


@dataclasses.dataclass(frozen=True)
class NodeOutput:
    node_id: str
    state: str  # The newest execution's state: COMPLETE, CACHED, FAILED, ...
    seconds: float  # The newest execution's wall time as MLMD recorded it.
    output_key: str
    artifact_type: str
    uri: str
    figures: dict = dataclasses.field(default_factory=dict)  # FIGURES found on the artifact


def _located(where: stores.Store | str) -> stores.Store:
    """A Store; a plain string is a SQLite file's path."""
    return stores.SqliteStore(where) if isinstance(where, str) else where


def newest_outputs(where: stores.Store | str, pipeline_name: str) -> list[NodeOutput]:
    """For each node of the pipeline, its newest execution's state and the artifacts it
    published (none where it failed: what a failed execution left is no output), so each
    artifact shown is the one `metadata.newest_output` names."""
    store = metadata.open_store(_located(where))
    types = {t.id: t.name for t in store.get_artifact_types()}
    rows = []
    for node, executions in metadata.node_executions(store, pipeline_name).items():
        if not executions:
            continue
        newest = executions[-1]
        state, seconds = metadata.execution_state(newest), metadata.execution_seconds(newest)
        events = [e for e in store.get_events_by_execution_ids([newest.id])
                  if e.type == metadata_store_pb2.Event.OUTPUT]
        artifacts = {a.id: a for a in store.get_artifacts_by_id([e.artifact_id for e in events])
                     if metadata.published(a)}
        events = [e for e in events if e.artifact_id in artifacts]
        if not events:
            rows.append(NodeOutput(node, state, seconds, "-", "-", "-"))
        for event in events:
            artifact = artifacts[event.artifact_id]
            found = metadata.scalar_properties(artifact)
            rows.append(NodeOutput(node, state, seconds, metadata.output_key(event) or "-",
                                   types[artifact.type_id], artifact.uri,
                                   {name: found[name] for name in FIGURES
                                    if found.get(name, "") != ""}))
    return rows


def _node_executions(where: stores.Store | str, pipeline_name: str) -> dict[str, list]:
    """{node id: its executions}; empty where no SQLite file exists yet (none is created)."""
    located = _located(where)
    if isinstance(located, stores.SqliteStore) and not os.path.isfile(located.path):
        return {}
    return metadata.node_executions(metadata.open_store(located), pipeline_name)


def newest_execution_id(where: stores.Store | str, pipeline_name: str) -> int | None:
    """The id of the pipeline's newest execution; None without a store file or executions."""
    return max((execution.id for executions in _node_executions(where, pipeline_name).values()
                for execution in executions), default=None)


def failed_node(where: stores.Store | str, pipeline_name: str) -> str | None:
    """The node of the pipeline's newest FAILED execution, or None (no store, or none failed)."""
    failed = [(execution.id, node)
              for node, executions in _node_executions(where, pipeline_name).items()
              for execution in executions
              if execution.last_known_state == metadata_store_pb2.Execution.FAILED]
    return max(failed)[1] if failed else None


def format_summary(where: stores.Store | str, pipeline_name: str) -> str:
    rows = newest_outputs(where, pipeline_name)
    lines = [f"ML Metadata ({_located(where).describe()})", "Newest outputs:"]
    for row in rows:
        lines.append(
            f"  {row.node_id:<18} {row.state:<9} {row.seconds:6.1f} s  {row.output_key:<10} "
            f"{row.artifact_type:<18} {row.uri}"
        )
        if row.figures:
            lines.append("      " + "  ".join(
                f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}"
                for k, v in row.figures.items()))
    return "\n".join(lines)
