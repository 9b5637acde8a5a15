"""Reading ML Metadata the way TFX records a pipeline: the store (a SQLite file or a MySQL
server, `pipelines/stores.py`), contexts, executions.

TFX records a `pipeline_run` context per run, a `node` context per component
("<pipeline>.<node id>"), an execution per component per run (COMPLETE, CACHED, FAILED, ...) and
INPUT / OUTPUT events between executions and artifacts. Only the `ml_metadata` API: no SQL, no
TensorFlow.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import socket
import tempfile
import time
from collections.abc import Callable

from ml_metadata.metadata_store import metadata_store
from ml_metadata.proto import metadata_store_pb2

from pipelines.stores import MYSQL_PASSWORD_ENV, MySQLStore, SqliteStore, Store

RUN_CONTEXT = "pipeline_run"
NODE_CONTEXT = "node"
# How long to wait for a MySQL server's greeting before calling it unreachable.
CONNECT_TIMEOUT_S = 5
# Connections retried while another process creates the tables of an empty database.
SCHEMA_RETRIES = 8


class StoreError(Exception):
    """The store cannot be used; the message is one line naming the cause."""


def mysql_connection_config(store: MySQLStore) -> metadata_store_pb2.ConnectionConfig:
    """The ConnectionConfig TFX's runners and `ml_metadata` take, with the password from the
    environment. The database must exist already (`skip_db_creation`): a mistyped name fails
    instead of starting a second, empty store."""
    config = metadata_store_pb2.ConnectionConfig()
    config.mysql.host = store.host
    config.mysql.port = store.port
    config.mysql.database = store.database
    config.mysql.user = store.user
    config.mysql.password = store.password()
    config.mysql.skip_db_creation = True
    return config


def open_store(store: Store, read_only: bool = True) -> metadata_store.MetadataStore:
    """A store to read (or write); FileNotFoundError for a SQLite file that does not exist (none
    is created), StoreError with the cause for a MySQL server that cannot be used."""
    if isinstance(store, SqliteStore):
        return open_sqlite(store.path, read_only)
    return open_mysql(store)


def open_mysql(store: MySQLStore) -> metadata_store.MetadataStore:
    """A connected store, or StoreError: no server, wrong password, no such database."""
    unreachable = _unreachable(store.host, store.port)
    if unreachable:
        raise StoreError(f"Cannot reach ML Metadata at {store.describe()}: no MySQL server "
                         f"answers there ({unreachable})")
    for attempt in itertools.count():
        try:
            with _native_stderr_muted():  # MLMD's C++ logs a generic hint; the cause is ours
                found = metadata_store.MetadataStore(mysql_connection_config(store))
                found.get_context_types()  # fails now if the schema cannot be read
            return found
        except Exception as error:  # MLMD raises RuntimeError or its own errors
            # Runs that start together on an empty database race to create its tables; the
            # loser sees some of them and is told to retry.
            if "retry" in str(error).lower() and attempt < SCHEMA_RETRIES:
                time.sleep(0.5 * (attempt + 1))
                continue
            raise StoreError(f"Cannot use ML Metadata at {store.describe()}: "
                             f"{_mysql_cause(store, error)}") from None


def _unreachable(host: str, port: int) -> str | None:
    """Why nothing answers at host:port like a MySQL server (it greets first), or None."""
    try:
        with socket.create_connection((host, port), timeout=CONNECT_TIMEOUT_S) as connection:
            connection.settimeout(CONNECT_TIMEOUT_S)
            greeting = connection.recv(64)
    except OSError as error:
        return error.strerror or str(error) or type(error).__name__
    return None if greeting else "the connection closed without a greeting"


def _mysql_cause(store: MySQLStore, error: Exception) -> str:
    text = " ".join(str(error).split())
    if "Unknown database" in text:
        return (f"the server has no database {store.database!r} (create it once: "
                f"CREATE DATABASE {store.database})")
    if "Access denied" in text and "to database" in text:
        # MySQL answers this for a database that does not exist as well (to hide which do).
        return (f"no database {store.database!r} that user {store.user!r} may use (create it "
                f"once: CREATE DATABASE {store.database}; GRANT ALL ON {store.database}.* TO "
                f"'{store.user}')")
    if "mysql_real_connect failed" in text:
        # The server answered (checked above) but refused the login; MLMD gives no reason.
        return (f"the server refused user {store.user!r}: wrong password "
                f"(${MYSQL_PASSWORD_ENV}) or no such user")
    return text or type(error).__name__


@contextlib.contextmanager
def _native_stderr_muted():
    """File descriptor 2 goes to a scratch file while the block runs (C++ logging included)."""
    saved = os.dup(2)
    try:
        with tempfile.TemporaryFile() as scratch:
            os.dup2(scratch.fileno(), 2)
            try:
                yield
            finally:
                os.dup2(saved, 2)
    finally:
        os.close(saved)


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


def node_of(context: metadata_store_pb2.Context) -> tuple[str, str]:
    """(pipeline name, node id) of a `node` context. TFX names it '<pipeline>.<node id>'; a
    pipeline name may hold dots, a node id never does."""
    pipeline, _, node = context.name.rpartition(".")
    return pipeline, node


def node_id(context: metadata_store_pb2.Context, pipeline_name: str) -> str | None:
    """The node id of a `node` context of this pipeline, else None."""
    pipeline, node = node_of(context)
    return node if pipeline == pipeline_name else None


def published(artifact: metadata_store_pb2.Artifact) -> bool:
    """Whether an execution that completed published it (LIVE): an artifact a failed or killed
    execution left PENDING or ABANDONED is no output of the pipeline."""
    return artifact.state == metadata_store_pb2.Artifact.LIVE


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
    """The newest published artifact `output.node` output under `output.key` (a
    `pipelines.nodes.Output`), or None (`newest_published`)."""
    return newest_published(store, node_executions(store, pipeline_name).get(output.node, []),
                            output.key)


def newest_published(store: metadata_store.MetadataStore,
                     executions: list[metadata_store_pb2.Execution], key: str,
                     accept: Callable[[metadata_store_pb2.Artifact], bool] | None = None
                     ) -> metadata_store_pb2.Artifact | None:
    """The one rule for "newest" every reader follows: the artifact that the newest of
    `executions` (by id) to publish one under `key` (and one `accept` takes) output, a cached
    execution too, which outputs the older artifact it reused. Not the artifact with the highest
    id: after a cache hit on an older model, the newest run's model is that older one."""
    for execution in sorted(executions, key=lambda e: e.id, reverse=True):
        ids = [event.artifact_id for event in store.get_events_by_execution_ids([execution.id])
               if event.type == metadata_store_pb2.Event.OUTPUT and output_key(event) == key]
        found = [a for a in store.get_artifacts_by_id(ids)
                 if published(a) and (accept is None or accept(a))]
        if found:
            return max(found, key=lambda a: a.id)
    return None
