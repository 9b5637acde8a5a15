"""Where ML Metadata lives: a local SQLite file (the default) or a MySQL / MariaDB server.

Plain values, no `ml_metadata` import, so the options can be checked in a fraction of a second;
`pipelines/metadata.py` connects to them. The MySQL password is never part of these values (nor
of the options, the pipeline's properties or anything printed): it is read from the environment
variable `MYSQL_PASSWORD_ENV` when a connection is made.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping

MYSQL_PASSWORD_ENV = "MLMD_MYSQL_PASSWORD"
MYSQL_DEFAULT_PORT = 3306
MYSQL_DEFAULT_DATABASE = "metadb"
MYSQL_DEFAULT_USER = "root"


@dataclasses.dataclass(frozen=True)
class SqliteStore:
    path: str

    def describe(self) -> str:
        return f"SQLite {self.path}"


@dataclasses.dataclass(frozen=True)
class MySQLStore:
    host: str
    port: int = MYSQL_DEFAULT_PORT
    database: str = MYSQL_DEFAULT_DATABASE
    user: str = MYSQL_DEFAULT_USER

    def describe(self) -> str:
        return f"MySQL {self.user}@{self.host}:{self.port}/{self.database}"

    def password(self, environ: Mapping[str, str] | None = None) -> str:
        environ = os.environ if environ is None else environ
        return environ.get(MYSQL_PASSWORD_ENV, "")


Store = SqliteStore | MySQLStore
