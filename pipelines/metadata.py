"""Reading ML Metadata the way TFX records a pipeline: the store, contexts, executions.

TFX records a `pipeline_run` context per run, a `node` context per component
("<pipeline>.<node id>"), an execution per component per run (COMPLETE, CACHED, FAILED, ...) and
INPUT / OUTPUT events between executions and artifacts. Only the `ml_metadata` API: no SQL, no
TensorFlow.
"""

from __future__ import annotations

import os

from ml_metadata.metadata_store import metadata_store
from ml_metadata.proto import metadata_store_pb2

RUN_CONTEXT = "pipeline_run"
NODE_CONTEXT = "node"


def open_sqlite(path: str, read_only: bool = True) -> metadata_store.MetadataStore:
    """A store on an existing SQLite file; a clear error instead of creating an empty one."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"No ML Metadata database at {path}")
    config = metadata_store_pb2.ConnectionConfig()
    config.sqlite.filename_uri = path
    config.sqlite.connection_mode = (
        metadata_store_pb2.SqliteMetadataSourceConfig.READONLY
        if read_only
        else metadata_store_pb2.SqliteMetadataSourceConfig.READWRITE
    )
    return metadata_store.MetadataStore(config)


def node_id(context: metadata_store_pb2.Context, pipeline_name: str) -> str | None:
    """The node id of a `node` context of this pipeline, else None."""
    prefix = pipeline_name + "."
    return context.name[len(prefix):] if context.name.startswith(prefix) else None


def node_executions(store: metadata_store.MetadataStore,
                    pipeline_name: str) -> dict[str, list[metadata_store_pb2.Execution]]:
    """{node id: its executions, oldest first} of one pipeline."""
    found = {}
    for context in sorted(store.get_contexts_by_type(NODE_CONTEXT), key=lambda c: c.id):
        node = node_id(context, pipeline_name)
        if node is not None:
            found[node] = sorted(store.get_executions_by_context(context.id), key=lambda e: e.id)
    return found


def execution_state(execution: metadata_store_pb2.Execution) -> str:
    return metadata_store_pb2.Execution.State.Name(execution.last_known_state)


def execution_seconds(execution: metadata_store_pb2.Execution) -> float:
    """Wall seconds from the execution's registration to its last update, as MLMD recorded."""
    return (execution.last_update_time_since_epoch - execution.create_time_since_epoch) / 1000


def output_key(event: metadata_store_pb2.Event) -> str:
    return event.path.steps[0].key if event.path.steps else ""


def scalar_properties(node: metadata_store_pb2.Artifact | metadata_store_pb2.Execution) -> dict:
    """Custom properties with int, float or string values (structs and protos left out)."""
    found = {}
    for key, value in sorted(node.custom_properties.items()):
        kind = value.WhichOneof("value")
        if kind in ("int_value", "double_value", "string_value"):
            found[key] = getattr(value, kind)
    return found


def newest_output(store: metadata_store.MetadataStore, pipeline_name: str,
                  output) -> metadata_store_pb2.Artifact | None:
    """The artifact the newest execution of `output.node` output under `output.key`
    (a `pipelines.nodes.Output`), or None."""
    executions = node_executions(store, pipeline_name).get(output.node)
    if not executions:
        return None
    for event in store.get_events_by_execution_ids([executions[-1].id]):
        if event.type == metadata_store_pb2.Event.OUTPUT and output_key(event) == output.key:
            return store.get_artifacts_by_id([event.artifact_id])[0]
    return None
