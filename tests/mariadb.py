"""A real MariaDB server for the tests, as a child process in a temporary directory.

Debian's `mariadb-server` (installed by scripts/setup_os.sh): `mariadb-install-db` initializes a
data directory, `mariadbd --no-defaults` serves it on a free loopback port and its own socket, and
the server is stopped at the end. Nothing of the machine's own MySQL set-up is read or touched.
"""

from __future__ import annotations

import dataclasses
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

STARTUP_TIMEOUT_S = 60
USER = "mlmd_test"
PASSWORD = "s3cret-Pw.2026"


def missing_binaries() -> list[str]:
    return [b for b in ("mariadb-install-db", "mariadbd", "mariadb") if not shutil.which(b)]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclasses.dataclass
class MariaDB:
    datadir: Path
    port: int
    process: subprocess.Popen | None = None

    @property
    def socket_path(self) -> Path:
        return self.datadir.parent / "mariadb.sock"

    def start(self) -> None:
        log = open(self.datadir.parent / "mariadbd.log", "ab")  # noqa: SIM115 (the server's)
        self.process = subprocess.Popen(
            ["mariadbd", "--no-defaults", f"--datadir={self.datadir}",
             f"--socket={self.socket_path}", f"--port={self.port}", "--bind-address=127.0.0.1",
             "--user=root", "--skip-name-resolve", "--innodb-buffer-pool-size=64M"],
            stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"mariadbd exited with {self.process.returncode}; see "
                                   f"{self.datadir.parent / 'mariadbd.log'}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"mariadbd did not listen on port {self.port} "
                           f"within {STARTUP_TIMEOUT_S} s")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)

    def sql(self, statement: str) -> str:
        """Runs SQL as root over the server's own socket; returns its output."""
        done = subprocess.run(
            ["mariadb", "--no-defaults", f"--socket={self.socket_path}", "--user=root",
             "--batch", "--skip-column-names", "--execute", statement],
            capture_output=True, text=True, timeout=60)
        if done.returncode:
            raise RuntimeError(f"SQL failed: {statement}: {done.stderr.strip()}")
        return done.stdout

    def create_database(self, name: str) -> str:
        """A database the test user may use (created with its tables by ML Metadata)."""
        self.sql(f"CREATE DATABASE `{name}`; GRANT ALL ON `{name}`.* TO '{USER}'@'127.0.0.1';")
        return name

    def environ(self, database: str) -> dict[str, str]:
        """The pipeline's and prune-lineage's variables for `database` on this server."""
        return {"MLMD_MYSQL_HOST": "127.0.0.1", "MLMD_MYSQL_PORT": str(self.port),
                "MLMD_MYSQL_DATABASE": database, "MLMD_MYSQL_USER": USER,
                "MLMD_MYSQL_PASSWORD": PASSWORD}


def start_server(directory: Path) -> MariaDB:
    """Initializes a data directory under `directory`, starts the server, creates the user."""
    datadir = directory / "data"
    done = subprocess.run(
        ["mariadb-install-db", "--no-defaults", f"--datadir={datadir}", "--user=root",
         "--auth-root-authentication-method=normal", "--skip-test-db"],
        capture_output=True, text=True, timeout=300)
    if done.returncode:
        raise RuntimeError(f"mariadb-install-db failed: {done.stdout[-2000:]}{done.stderr}")
    server = MariaDB(datadir, free_port())
    server.start()
    # The anonymous users mariadb-install-db creates would shadow a named user's '%' host;
    # the test user is bound to the loopback address the tests connect from.
    server.sql(f"CREATE USER '{USER}'@'127.0.0.1' IDENTIFIED BY '{PASSWORD}';")
    return server
