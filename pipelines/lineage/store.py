"""Connecting to an ML Metadata store: the one `make run` records into by default (the same
options: SQLite, or MySQL with MLMD_MYSQL_*), or one named by flags (SQLite, MySQL, gRPC)."""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Mapping

from ml_metadata.metadata_store import metadata_store
from ml_metadata.proto import metadata_store_pb2

from pipelines import configs, metadata, stores


class LineageError(Exception):
    """A problem the user can fix (bad store, unknown artifact): printed without a traceback."""


@dataclasses.dataclass(frozen=True)
class GrpcService:
    host: str
    port: int

    def describe(self) -> str:
        return f"gRPC {self.host}:{self.port}"


GRPC_DEFAULT_PORT = 8080


def default_store(environ: Mapping[str, str] | None = None) -> stores.Store:
    """Where `make run` records with these variables (pipelines/configs.py)."""
    try:
        return configs.default_store(environ)
    except configs.SettingsError as error:
        raise LineageError(f"{error} (it names the default store)") from None


def add_connection_flags(parser: argparse.ArgumentParser, defaults: bool = True) -> None:
    """The store options. `defaults=False` leaves unset ones out of the namespace: for the copy
    each subcommand takes, so an option given before the subcommand is not overwritten."""

    def default(value):
        return value if defaults else argparse.SUPPRESS

    group = parser.add_argument_group(
        "ML Metadata connection (default: the store `make run` records into, from the same "
        "variables: METADATA_PATH / PIPELINE_ROOT / PIPELINE_NAME / DATASET, or MLMD_MYSQL_*)")
    group.add_argument("--sqlite", metavar="PATH", default=default(None), help="SQLite file")
    group.add_argument("--mysql-host", default=default(None),
                       help="MySQL or MariaDB server holding the store (default "
                            "$MLMD_MYSQL_HOST); the password is read from "
                            f"${stores.MYSQL_PASSWORD_ENV}, never from a flag")
    group.add_argument("--mysql-port", type=int, default=default(None),
                       help=f"default $MLMD_MYSQL_PORT, else {stores.MYSQL_DEFAULT_PORT}")
    group.add_argument("--mysql-database", default=default(None),
                       help=f"default $MLMD_MYSQL_DATABASE, else {stores.MYSQL_DEFAULT_DATABASE}")
    group.add_argument("--mysql-user", default=default(None),
                       help=f"default $MLMD_MYSQL_USER, else {stores.MYSQL_DEFAULT_USER}")
    group.add_argument("--grpc-host", default=default(None),
                       help="ML Metadata gRPC service, e.g. Kubeflow's metadata-grpc-service "
                            "(port-forwarded)")
    group.add_argument("--grpc-port", type=int, default=default(GRPC_DEFAULT_PORT))


def chosen_store(args: argparse.Namespace,
                 environ: Mapping[str, str] | None = None) -> stores.Store | GrpcService:
    """The flags' store; what they leave unset comes from the pipeline's variables."""
    if args.grpc_host:
        return GrpcService(args.grpc_host, args.grpc_port)
    if args.sqlite:
        return stores.SqliteStore(args.sqlite)
    fallback = default_store(environ)
    if not (args.mysql_host or isinstance(fallback, stores.MySQLStore)):
        return fallback
    from_env = (fallback if isinstance(fallback, stores.MySQLStore)
                else stores.MySQLStore(args.mysql_host))
    given = {"host": args.mysql_host, "port": args.mysql_port,
             "database": args.mysql_database, "user": args.mysql_user}
    return dataclasses.replace(from_env, **{k: v for k, v in given.items() if v is not None})


def connect(where: stores.Store | GrpcService) -> metadata_store.MetadataStore:
    """A read-only store; LineageError with the reason when it cannot be used."""
    try:
        if isinstance(where, GrpcService):
            store = metadata_store.MetadataStore(metadata_store_pb2.MetadataStoreClientConfig(
                host=where.host, port=where.port))
        else:
            store = metadata.open_store(where)
        if not isinstance(where, stores.MySQLStore):  # open_mysql has asked this already
            store.get_context_types()  # a cheap call that fails now if the store is unusable
    except FileNotFoundError as error:  # no SQLite file: nothing to read, none is created
        raise LineageError(f"{error}: run the pipeline first (`make run`), or point --sqlite, "
                           "--mysql-host or --grpc-host at a store") from None
    except metadata.StoreError as error:
        raise LineageError(str(error)) from None
    except Exception as error:  # MLMD raises several error types, all of them "cannot connect"
        raise LineageError(f"Cannot read ML Metadata at {where.describe()}: {error}") from None
    return store
