"""Reads a pipeline's newest outputs from ML Metadata (what `make run` prints at the end)."""

from __future__ import annotations

import dataclasses
import os

from ml_metadata.metadata_store import metadata_store
from ml_metadata.proto import metadata_store_pb2

NODE_CONTEXT_TYPE = "node"  # TFX's context per pipeline node, named "<pipeline>.<node id>".
# Custom properties worth a glance at the end of a run, in this order.
FIGURES = ("test_accuracy", "test_loss", "sparsity", "clusters", "num_parameters",
           "resumed_from_epoch", "blessed", "int8_tflite_accuracy",
           "gzip_bytes_pruned_int8_tflite", "compression_ratio", "latency_ms_int8", "pushed")


@dataclasses.dataclass(frozen=True)
class NodeOutput:
    node_id: str
    state: str  # The newest execution's state: COMPLETE, CACHED, FAILED, ...
    seconds: float  # The newest execution's wall time as MLMD recorded it.
    output_key: str
    artifact_type: str
    uri: str
    figures: dict = dataclasses.field(default_factory=dict)  # FIGURES found on the artifact


def open_store(metadata_path: str, read_only: bool = True) -> metadata_store.MetadataStore:
    """A store on an existing SQLite file; a clear error instead of creating an empty one."""
    if not os.path.isfile(metadata_path):
        raise FileNotFoundError(f"No ML Metadata database at {metadata_path}")
    config = metadata_store_pb2.ConnectionConfig()
    config.sqlite.filename_uri = metadata_path
    config.sqlite.connection_mode = (
        metadata_store_pb2.SqliteMetadataSourceConfig.READONLY
        if read_only
        else metadata_store_pb2.SqliteMetadataSourceConfig.READWRITE
    )
    return metadata_store.MetadataStore(config)


def newest_outputs(metadata_path: str, pipeline_name: str) -> list[NodeOutput]:
    """For each node of the pipeline, its newest execution's state and output artifacts."""
    store = open_store(metadata_path)
    types = {t.id: t.name for t in store.get_artifact_types()}
    prefix = pipeline_name + "."
    rows = []
    for context in sorted(store.get_contexts_by_type(NODE_CONTEXT_TYPE), key=lambda c: c.id):
        if not context.name.startswith(prefix):
            continue
        executions = store.get_executions_by_context(context.id)
        if not executions:
            continue
        newest = max(executions, key=lambda e: e.id)
        state = metadata_store_pb2.Execution.State.Name(newest.last_known_state)
        seconds = (newest.last_update_time_since_epoch - newest.create_time_since_epoch) / 1000
        events = [
            e for e in store.get_events_by_execution_ids([newest.id])
            if e.type == metadata_store_pb2.Event.OUTPUT
        ]
        artifacts = {a.id: a for a in store.get_artifacts_by_id([e.artifact_id for e in events])}
        node_id = context.name[len(prefix):]
        if not events:
            rows.append(NodeOutput(node_id, state, seconds, "-", "-", "-"))
        for event in events:
            artifact = artifacts[event.artifact_id]
            key = event.path.steps[0].key if event.path.steps else "-"
            rows.append(NodeOutput(node_id, state, seconds, key, types[artifact.type_id],
                                   artifact.uri, _figures(artifact)))
    return rows


def failed_node(metadata_path: str, pipeline_name: str) -> str | None:
    """The node of the pipeline's newest FAILED execution, or None (no store, or none failed)."""
    if not os.path.isfile(metadata_path):
        return None
    store = open_store(metadata_path)
    prefix = pipeline_name + "."
    newest: tuple[int, str] | None = None
    for context in store.get_contexts_by_type(NODE_CONTEXT_TYPE):
        if not context.name.startswith(prefix):
            continue
        for execution in store.get_executions_by_context(context.id):
            if (execution.last_known_state == metadata_store_pb2.Execution.FAILED
                    and (newest is None or execution.id > newest[0])):
                newest = (execution.id, context.name[len(prefix):])
    return newest[1] if newest else None


def scalar_properties(node: metadata_store_pb2.Artifact | metadata_store_pb2.Execution) -> dict:
    """Custom properties with int, float or string values (structs and protos left out)."""
    found = {}
    for key, value in sorted(node.custom_properties.items()):
        kind = value.WhichOneof("value")
        if kind in ("int_value", "double_value", "string_value"):
            found[key] = getattr(value, kind)
    return found


def _figures(artifact: metadata_store_pb2.Artifact) -> dict:
    properties = scalar_properties(artifact)
    return {name: properties[name] for name in FIGURES if name in properties}


def format_summary(metadata_path: str, pipeline_name: str) -> str:
    rows = newest_outputs(metadata_path, pipeline_name)
    lines = [f"ML Metadata (SQLite): {metadata_path}", "Newest outputs:"]
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
