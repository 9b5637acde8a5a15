"""`prune-lineage` on a team's store: a MariaDB ML Metadata store holding 100 pipeline runs, and
how long `prune-lineage` takes on it and how many requests it makes.

    .venv/bin/python scripts/lineage_store_100.py            # build the store once, then measure
    .venv/bin/python scripts/lineage_store_100.py --serve    # build it once, then serve it until
                                                             # stopped, printing MLMD_MYSQL_*

What it makes, under --root (default /tmp/lineage100): a MariaDB server's data directory (Debian's
`mariadb-server`, started as tests/mariadb.py starts it: `mariadbd --no-defaults` on a free
loopback port, stopped at the end) with a database `lineage100`, into which the pipeline
`lineage100` is run --runs times (default 100) in one process with LocalDagRunner. The first run
executes every component on 200 real MNIST examples per split (../shared/data/mnist, through
TFDS), a tiny model, one epoch per stage and a gate every model passes, so the Pusher pushes
(about 100 s on 2 cores); the others change nothing and every component of theirs is CACHED
(0.6 s each at first, 3 s at the 100th: TFX's cache lookup grows with the store). A store that
already holds runs is reused and only the missing runs are added, so the figures of two versions
of the code compare on one store. Delete --root to start again.

What it measures, for `prune-lineage runs`, `prune-lineage lineage latest:pushed` and
`prune-lineage lineage latest:examples --downstream`, each --repeat times (default 3), median:
- the whole command's wall time: `.venv/bin/prune-lineage ...` as a user runs it, Python's
  imports included;
- inside one process, `cli.run_command`: connecting, the store calls and the text;
- the requests ML Metadata's client made to the store in that process (`MetadataStore._call`:
  one per store call, one per page of a paged one); each is at least one round trip to the server.
All after one untimed pass of each command: a server just started is slower for a few seconds.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import platform
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

# The repository's packages (pipelines, tests) from any working directory.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipelines import configs
from tests import mariadb as server_control

DATABASE = "lineage100"
PIPELINE = "lineage100"
COMMANDS = (["runs"], ["lineage", "latest:pushed"], ["lineage", "latest:examples", "--downstream"])
PRUNE_LINEAGE = Path(sys.executable).parent / "prune-lineage"
# A tiny model, one epoch per stage, a gate every model passes: the Pusher pushes.
TINY = {
    "EXAMPLE_LIMIT": "200", "MODEL_WIDTH": "8", "DENSE_UNITS": "32", "BATCH_SIZE": "32",
    "TRAIN_EPOCHS": "1", "PRUNE_FILTER_EPOCHS": "1", "PRUNE_EPOCHS": "1", "CLUSTER_EPOCHS": "1",
    "PRUNE_FILTER_SPARSITY": "conv1:0.75,conv2:0.625,conv3:0.625,dense1:0.8125",
    "PRUNE_FREQUENCY": "1", "CLUSTER_COUNT": "4", "REPRESENTATIVE_EXAMPLES": "8",
    "LATENCY_RUNS": "3", "EVAL_MIN_ACCURACY": "0", "EVAL_MAX_ACCURACY_DROP": "1",
    "BEAM_RUNNING_MODE": "in_memory",
}


def serve(root: Path) -> server_control.MariaDB:
    """The server on root's data directory, initialized (with the user and the database) the
    first time."""
    if (root / "data").is_dir():
        server = server_control.MariaDB(root / "data", server_control.free_port())
        server.start()
        return server
    root.mkdir(parents=True, exist_ok=True)
    server = server_control.start_server(root)
    server.create_database(DATABASE)
    return server


def pipeline_environ(server: server_control.MariaDB, root: Path) -> dict[str, str]:
    return {**TINY, **server.environ(DATABASE), "PIPELINE_NAME": PIPELINE,
            "PIPELINE_ROOT": str(root / "pipeline"), "SERVING_MODEL_DIR": str(root / "serving"),
            "TFDS_DATA_DIR": str(root / "tfds"),
            "TFDS_MANUAL_DIR": str(configs.SHARED_DATA_DIR / "mnist")}


def recorded_runs(environ: dict[str, str]) -> int:
    from pipelines import metadata

    with _environ(environ):
        store = metadata.open_mysql(configs.default_store())
        return len(store.get_contexts_by_type(metadata.RUN_CONTEXT))


def add_runs(environ: dict[str, str], runs: int, root: Path) -> None:
    """Runs the pipeline until the store holds `runs` runs; TFX's log goes to root/runs.log."""
    have = recorded_runs(environ)
    if have >= runs:
        print(f"The store holds {have} runs already.", flush=True)
        return
    logging.basicConfig(filename=root / "runs.log", level=logging.INFO, force=True)
    from tfx.orchestration.local.local_dag_runner import LocalDagRunner

    from pipelines.pipeline import create_pipeline

    with _environ(environ):
        config = configs.load_config([])
        for number in range(have + 1, runs + 1):
            started = time.monotonic()
            LocalDagRunner().run(create_pipeline(config))
            print(f"run {number}/{runs}: {time.monotonic() - started:.1f} s", flush=True)


def measure(environ: dict[str, str], repeat: int) -> list[dict]:
    """Per command: the median whole-command seconds, in-process seconds and store requests."""
    from ml_metadata.metadata_store import metadata_store

    from pipelines.lineage import cli

    requests = []
    call = metadata_store.MetadataStore._call

    def counted(self, method_name, *args, **kwargs):
        requests.append(method_name)
        return call(self, method_name, *args, **kwargs)

    # A server just started is slower for its first seconds (it loads its buffer pool): one
    # untimed pass of each command first.
    with _environ(environ):
        for command in COMMANDS:
            cli.run_command(cli.build_parser().parse_args(command))
    rows = []
    for command in COMMANDS:
        wall, inside, calls = [], [], []
        for _ in range(repeat):
            started = time.monotonic()
            done = subprocess.run([str(PRUNE_LINEAGE), *command], env={**os.environ, **environ},
                                  capture_output=True, text=True, timeout=600)
            wall.append(time.monotonic() - started)
            if done.returncode:
                raise RuntimeError(f"prune-lineage {' '.join(command)}: {done.stderr}")
            requests.clear()
            with _environ(environ), _patched(metadata_store.MetadataStore, "_call", counted):
                started = time.monotonic()
                output = cli.run_command(cli.build_parser().parse_args(command))
                inside.append(time.monotonic() - started)
            if output != done.stdout.rstrip("\n"):
                raise RuntimeError(f"prune-lineage {' '.join(command)}: the process and the "
                                   "command printed different things")
            calls.append(len(requests))
        rows.append({"command": "prune-lineage " + " ".join(command),
                     "requests": statistics.median(calls),
                     "in_process_s": statistics.median(inside),
                     "wall_s": statistics.median(wall)})
    return rows


def machine() -> str:
    model = next((line.split(":", 1)[1].strip()
                  for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor())
    return f"{model}, {os.cpu_count()} cores"


@contextlib.contextmanager
def _environ(values: dict[str, str]):
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@contextlib.contextmanager
def _patched(owner, name, value):
    saved = getattr(owner, name)
    setattr(owner, name, value)
    try:
        yield
    finally:
        setattr(owner, name, saved)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", type=Path, default=Path("/tmp/lineage100"))
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--serve", action="store_true",
                        help="serve the store until interrupted instead of measuring")
    args = parser.parse_args()
    if missing := server_control.missing_binaries():
        sys.exit(f"MariaDB is not installed ({', '.join(missing)}): run scripts/setup_os.sh")
    server = serve(args.root)
    try:
        environ = pipeline_environ(server, args.root)
        add_runs(environ, args.runs, args.root)
        if args.serve:
            print(" ".join(f"{k}={v}" for k, v in environ.items() if k.startswith("MLMD_")))
            print(f"Serving; Ctrl-C or `kill {os.getpid()}` stops the server.", flush=True)
            # A shell starts a background job with SIGINT ignored: both signals stop it here.
            for number in (signal.SIGINT, signal.SIGTERM):
                signal.signal(number, signal.default_int_handler)
            with contextlib.suppress(KeyboardInterrupt):
                server.process.wait()
            return
        rows = measure(environ, args.repeat)
        print(f"\n{recorded_runs(environ)} runs in MariaDB; {machine()}; median of "
              f"{args.repeat}")
        print("| command | store requests | in the process (s) | whole command (s) |")
        print("|---|---|---|---|")
        for row in rows:
            print(f"| `{row['command']}` | {row['requests']:.0f} | {row['in_process_s']:.3f} | "
                  f"{row['wall_s']:.2f} |")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
