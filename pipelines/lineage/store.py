"""Connecting to an ML Metadata store: local SQLite by default, MySQL or gRPC by flags."""

from __future__ import annotations

import argparse
import os

from ml_metadata.metadata_store import metadata_store
from ml_metadata.proto import metadata_store_pb2

from pipelines import configs, metadata

CONNECTION_DEFAULTS = {"sqlite": None, "mysql_host": None, "mysql_port": 3306,
                       "mysql_database": "metadb", "mysql_user": "root", "grpc_host": None,
                       "grpc_port": 8080}


class LineageError(Exception):
    """A problem the user can fix (bad store, unknown artifact): printed without a traceback."""


def default_sqlite_path(environ=None) -> str:
    """Where `make run` keeps its store, from the same variables (pipelines/configs.py)."""
    try:
        return configs.default_store_path(environ)
    except configs.SettingsError as error:
        raise LineageError(f"{error} (it names the default store)") from None


def add_connection_flags(parser: argparse.ArgumentParser, defaults: bool = True) -> None:
    """The store options. `defaults=False` leaves unset ones out of the namespace: for the copy
    each subcommand takes, so an option given before the subcommand is not overwritten."""

    def default(name):
        return CONNECTION_DEFAULTS[name] if defaults else argparse.SUPPRESS

    group = parser.add_argument_group("ML Metadata connection (default: the local SQLite store)")
    group.add_argument("--sqlite", metavar="PATH", default=default("sqlite"),
                       help="SQLite file (default: the pipeline's, from METADATA_PATH / "
                            "PIPELINE_ROOT / PIPELINE_NAME / DATASET as in `make run`)")
    group.add_argument("--mysql-host", default=default("mysql_host"),
                       help="MySQL server holding the store")
    group.add_argument("--mysql-port", type=int, default=default("mysql_port"))
    group.add_argument("--mysql-database", default=default("mysql_database"))
    group.add_argument("--mysql-user", default=default("mysql_user"))
    group.add_argument("--mysql-password", default=(
        os.environ.get("MLMD_MYSQL_PASSWORD", "") if defaults else argparse.SUPPRESS),
        help="default: $MLMD_MYSQL_PASSWORD")
    group.add_argument("--grpc-host", default=default("grpc_host"),
                       help="ML Metadata gRPC service, e.g. Kubeflow's metadata-grpc-service "
                            "(port-forwarded)")
    group.add_argument("--grpc-port", type=int, default=default("grpc_port"))


def describe(args: argparse.Namespace) -> str:
    if args.grpc_host:
        return f"gRPC {args.grpc_host}:{args.grpc_port}"
    if args.mysql_host:
        return f"MySQL {args.mysql_user}@{args.mysql_host}:{args.mysql_port}/{args.mysql_database}"
    return f"SQLite {args.sqlite}"


def connect(args: argparse.Namespace) -> metadata_store.MetadataStore:
    """A read-only store (`args.sqlite` set unless a service is named); LineageError with the
    reason when it cannot be reached."""
    remote = args.grpc_host or args.mysql_host
    try:
        if remote:
            store = metadata_store.MetadataStore(_remote_config(args))
        else:
            store = metadata.open_sqlite(args.sqlite)
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
