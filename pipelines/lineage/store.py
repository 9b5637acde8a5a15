"""Connecting to an ML Metadata store: local SQLite by default, MySQL or gRPC by flags."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from ml_metadata.metadata_store import metadata_store
from ml_metadata.proto import metadata_store_pb2

from pipelines import outputs

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_PIPELINE = "mnist_pruning"


class LineageError(Exception):
    """A problem the user can fix (bad store, unknown artifact): printed without a traceback."""


def default_sqlite_path(environ=os.environ) -> str:
    """Where `make run` keeps its store, from the same variables as pipelines/configs.py
    (METADATA_PATH, PIPELINE_ROOT, PIPELINE_NAME), without importing TensorFlow."""
    if environ.get("METADATA_PATH"):
        return environ["METADATA_PATH"]
    name = environ.get("PIPELINE_NAME") or DEFAULT_PIPELINE
    root = environ.get("PIPELINE_ROOT") or str(PROJECT_ROOT / "build" / "pipelines" / name)
    return os.path.join(root, "metadata.sqlite")


def add_connection_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("ML Metadata connection (default: the local SQLite store)")
    group.add_argument("--sqlite", metavar="PATH",
                       help="SQLite file (default: the pipeline's, from METADATA_PATH / "
                            "PIPELINE_ROOT / PIPELINE_NAME as in `make run`)")
    group.add_argument("--mysql-host", help="MySQL server holding the store")
    group.add_argument("--mysql-port", type=int, default=3306)
    group.add_argument("--mysql-database", default="metadb")
    group.add_argument("--mysql-user", default="root")
    group.add_argument("--mysql-password", default=os.environ.get("MLMD_MYSQL_PASSWORD", ""),
                       help="default: $MLMD_MYSQL_PASSWORD")
    group.add_argument("--grpc-host", help="ML Metadata gRPC service, e.g. Kubeflow's "
                                           "metadata-grpc-service (port-forwarded)")
    group.add_argument("--grpc-port", type=int, default=8080)


def describe(args: argparse.Namespace) -> str:
    if args.grpc_host:
        return f"gRPC {args.grpc_host}:{args.grpc_port}"
    if args.mysql_host:
        return f"MySQL {args.mysql_user}@{args.mysql_host}:{args.mysql_port}/{args.mysql_database}"
    return f"SQLite {args.sqlite or default_sqlite_path()}"


def connect(args: argparse.Namespace) -> metadata_store.MetadataStore:
    """A read-only store; LineageError with the reason when it cannot be reached."""
    remote = args.grpc_host or args.mysql_host
    try:
        if remote:
            store = metadata_store.MetadataStore(_remote_config(args))
        else:
            store = outputs.open_store(args.sqlite or default_sqlite_path())
        store.get_context_types()  # a cheap call that fails now if the store is unusable
    except FileNotFoundError as error:  # no SQLite file: nothing to read, none is created
        raise LineageError(f"{error}: run the pipeline first (`make run`), or point --sqlite, "
                           "--mysql-host or --grpc-host at a store") from None
    except Exception as error:  # MLMD raises several error types, all of them "cannot connect"
        raise LineageError(f"Cannot read ML Metadata at {describe(args)}: {error}") from None
    return store


def _remote_config(args: argparse.Namespace):
    if args.grpc_host:
        return metadata_store_pb2.MetadataStoreClientConfig(
            host=args.grpc_host, port=args.grpc_port)
    config = metadata_store_pb2.ConnectionConfig()
    config.mysql.host = args.mysql_host
    config.mysql.port = args.mysql_port
    config.mysql.database = args.mysql_database
    config.mysql.user = args.mysql_user
    config.mysql.password = args.mysql_password
    return config
