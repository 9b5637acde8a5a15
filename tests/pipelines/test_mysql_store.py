"""ML Metadata on a real MariaDB server (tests/mariadb.py): the runners record into it,
`prune-lineage` reads it, and a server that cannot be used fails at once with one line.

No mock: the server is Debian's `mariadbd`, started for the session as a child process.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipelines import configs, entrypoint, metadata, stores
from pipelines.lineage import cli
from tests import mariadb as server_control
from tests.pipelines.support import TINY_TRAINING

RUNNER = [sys.executable, "-m", "pipelines.local_runner"]
# Well above the one second a refused connection takes and well below importing TensorFlow:
# an error after this long means the store was not checked first.
FAIL_FAST_S = 8


@pytest.fixture(scope="module")
def stopped_server(tmp_path_factory):
    """A server that was started, served a database, and was stopped."""
    if server_control.missing_binaries():
        pytest.skip("MariaDB not installed: run scripts/setup_os.sh")
    server = server_control.start_server(tmp_path_factory.mktemp("stopped_mariadb"))
    database = server.create_database("was_here")
    server.stop()
    return server, database


def _bad_stores(mariadb, stopped_server) -> dict[str, tuple[dict, str]]:
    """case: (environment, the one line that must name the cause)."""
    database = mariadb.create_database(f"bad_{time.monotonic_ns()}")
    stopped, stopped_database = stopped_server
    user = server_control.USER

    def at(port, name):
        return f"ML Metadata at MySQL {user}@127.0.0.1:{port}/{name}"

    return {
        "wrong password": (
            {**mariadb.environ(database), "MLMD_MYSQL_PASSWORD": "not-it"},
            f"Cannot use {at(mariadb.port, database)}: the server refused user '{user}': "
            "wrong password ($MLMD_MYSQL_PASSWORD) or no such user"),
        "missing database": (
            mariadb.environ("no_such_db"),
            f"Cannot use {at(mariadb.port, 'no_such_db')}: no database 'no_such_db' that "
            f"user '{user}' may use (create it once: CREATE DATABASE no_such_db; GRANT ALL ON "
            f"no_such_db.* TO '{user}')"),
        "stopped server": (
            stopped.environ(stopped_database),
            f"Cannot reach {at(stopped.port, stopped_database)}: no MySQL server answers "
            "there (Connection refused)"),
    }


CASES = ("wrong password", "missing database", "stopped server")


@pytest.mark.parametrize("case", CASES)
def test_runner_fails_at_once_naming_the_cause(case, mariadb, stopped_server, tmp_path):
    environ, cause = _bad_stores(mariadb, stopped_server)[case]
    started = time.monotonic()
    done = subprocess.run(RUNNER, env={**os.environ, **environ,
                                       "PIPELINE_ROOT": str(tmp_path / "root")},
                          capture_output=True, text=True, timeout=120)
    seconds = time.monotonic() - started
    assert done.returncode == 2, done.stderr[-2000:]
    assert done.stderr.splitlines() == [f"pipelines.local_runner: error: {cause}"]
    assert "Traceback" not in done.stderr
    assert seconds < FAIL_FAST_S, f"{case}: took {seconds:.1f} s"
    assert server_control.PASSWORD not in done.stdout + done.stderr
    assert not (tmp_path / "root").exists()  # nothing was run, no SQLite fallback


@pytest.mark.parametrize("case", CASES)
def test_lineage_fails_naming_the_cause(case, mariadb, stopped_server, monkeypatch, capsys):
    environ, cause = _bad_stores(mariadb, stopped_server)[case]
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    assert cli.main(["runs"]) == 2
    assert capsys.readouterr().err == f"prune-lineage: error: {cause}\n"


def test_the_options_name_the_store(mariadb):
    database = mariadb.create_database("options")
    environ = mariadb.environ(database)
    store = configs.load_config([], environ=environ).metadata_store
    assert store == stores.MySQLStore("127.0.0.1", mariadb.port, database, server_control.USER)
    assert configs.default_store(environ) == store
    # The password is no option: not in the config, its repr, or the store's description.
    config = configs.load_config([], environ=environ)
    assert server_control.PASSWORD not in repr(config) + repr(store) + store.describe()
    # Flags before variables, for prune-lineage as for the runners.
    args = cli.build_parser().parse_args(["--mysql-database", "other", "runs"])
    from pipelines.lineage.store import chosen_store

    assert chosen_store(args, environ) == stores.MySQLStore(
        "127.0.0.1", mariadb.port, "other", server_control.USER)
    assert configs.load_config([], environ={}).metadata_store == stores.SqliteStore(
        str(configs.BUILD_DIR / "pipelines" / "mnist_pruning" / "metadata.sqlite"))


def test_a_new_database_gets_the_schema_and_reads_back(mariadb, monkeypatch):
    database = mariadb.create_database("schema")
    for name, value in mariadb.environ(database).items():
        monkeypatch.setenv(name, value)
    store = metadata.open_mysql(configs.default_store())
    assert store.get_artifacts() == []
    tables = mariadb.sql(f"SHOW TABLES FROM `{database}`").split()
    assert {"Artifact", "Execution", "Context", "Event"} <= set(tables)


@pytest.fixture(scope="module")
def two_runs(mariadb, mnist_manual_dir, prepared_data_dir, tmp_path_factory):
    """Two pipelines started at the same moment, recording into one database."""
    database = mariadb.create_database("team")
    root = tmp_path_factory.mktemp("two_runs")
    names = ("alice_pruning", "bob_pruning")
    processes = {}
    for name in names:
        environ = {
            **os.environ, **TINY_TRAINING, **mariadb.environ(database),
            "PIPELINE_NAME": name, "PIPELINE_ROOT": str(root / name / "root"),
            "SERVING_MODEL_DIR": str(root / name / "serving"),
            "TFDS_DATA_DIR": str(prepared_data_dir), "TFDS_MANUAL_DIR": str(mnist_manual_dir),
            "EXAMPLE_LIMIT": "300", "BEAM_RUNNING_MODE": "in_memory",
        }
        log = open(root / f"{name}.log", "w")  # noqa: SIM115 (closed below)
        processes[name] = (subprocess.Popen(RUNNER, env=environ, stdout=log,
                                            stderr=subprocess.STDOUT), log)
    for name, (process, log) in processes.items():
        process.wait(timeout=800)
        log.close()
        assert process.returncode == 0, (root / f"{name}.log").read_text()[-4000:]
    return database, root, names


@pytest.mark.e2e
@pytest.mark.integration
def test_two_concurrent_runs_each_record_their_own_lineage(two_runs, mariadb, monkeypatch,
                                                           capsys):
    database, root, names = two_runs
    for name, value in mariadb.environ(database).items():
        monkeypatch.setenv(name, value)
    for name in names:
        assert cli.main(["--pipeline", name, "--json", "runs"]) == 0
        [run] = json.loads(capsys.readouterr().out)
        assert run["state"] == "COMPLETE" and len(run["components"]) == 9
        # The pushed model's provenance reaches this pipeline's Examples and nothing of the
        # other pipeline's.
        assert cli.main(["--pipeline", name, "--json", "lineage", "latest:pushed"]) == 0
        tree = capsys.readouterr().out
        uris = {uri for uri in _values(json.loads(tree), "uri")}
        own, other = str(root / name), str(root / next(n for n in names if n != name))
        assert any(u.startswith(own) and "/TfdsExampleGen/examples/" in u for u in uris), uris
        assert all(u.startswith(own) for u in uris), uris
        assert not any(u.startswith(other) for u in uris)
        assert (root / name / "serving").is_dir()  # what the Pusher pushed


@pytest.mark.e2e
@pytest.mark.integration
def test_the_password_is_never_printed_or_stored(two_runs, mariadb):
    database, root, names = two_runs
    for name in names:
        log = (root / f"{name}.log").read_text()
        assert "pipeline: [9/9] Pusher done in " in log  # the whole run's output
        assert server_control.PASSWORD not in log
    # TFX logs the whole connection config at INFO, which a run does not show; where a handler
    # shows it, the entry point's filter masks the password.
    record = logging.LogRecord("absl", logging.INFO, __file__, 1, "Using connection config:\n %s",
                               (f'mysql {{ password: "{server_control.PASSWORD}" }}',), None)
    entrypoint._PasswordFilter().filter(record)
    assert record.getMessage() == 'Using connection config:\n mysql { password: "***" }'
    dump = subprocess.run(
        ["mariadb-dump", "--no-defaults", f"--socket={mariadb.socket_path}", "--user=root",
         database], capture_output=True, text=True, timeout=120)
    assert dump.returncode == 0 and "INSERT INTO `Execution`" in dump.stdout
    assert server_control.PASSWORD not in dump.stdout
    for path in Path(root).rglob("*"):
        if path.is_file() and path.stat().st_size < 50_000_000:
            assert server_control.PASSWORD.encode() not in path.read_bytes(), path


def _values(node, key):
    """Every value of `key` anywhere in a JSON tree."""
    if isinstance(node, dict):
        for k, v in node.items():
            if k == key:
                yield v
            yield from _values(v, key)
    elif isinstance(node, list):
        for item in node:
            yield from _values(item, key)
