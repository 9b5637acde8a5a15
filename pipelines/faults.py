"""`make faults`: kill a real local run inside each long component, then run it again.

    python -m pipelines.faults      # -> build/faults/results.json and a table

One pipeline root, small real data (FAULT_RUN below; the real MNIST files are needed). Run k is
started as its own process group and killed with SIGKILL (the whole run: the runner, Beam's
workers, LiteRT's subprocesses) while the k-th long component executes; the PruneTrainer is
killed in the middle of its second weight-pruning epoch. Run 6 is left to finish. After
each run the script records, from ML Metadata and `prune-lineage`:

- which components the next run served from the cache and which it executed again;
- the killed execution's state in ML Metadata (TFX leaves it RUNNING) and the run's state as
  `prune-lineage runs` shows it (ABANDONED once a later run exists);
- whether any output of a killed execution was published (it must not be) and whether a
  `latest:` shortcut could name one;
- the PruneTrainer's `resumed_from_epoch` in the run that completes it.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from components import progress, properties
from pipelines import configs, entrypoint, nodes

FAULTS_DIR = configs.BUILD_DIR / "faults"
# Small enough for minutes, long enough that every component can be caught while it runs.
FAULT_RUN = {
    "PIPELINE_NAME": "faults", "EXAMPLE_LIMIT": "3000", "TRAIN_EPOCHS": "2",
    "PRUNE_FILTER_EPOCHS": "2", "PRUNE_EPOCHS": "4", "BATCH_SIZE": "64",
    "PRUNE_FREQUENCY": "5", "PRUNE_FILTER_FREQUENCY": "5",
    "EVAL_MIN_ACCURACY": "0", "EVAL_MAX_ACCURACY_DROP": "1",
    "LATENCY_RUNS": "200",
}
# The components killed, in pipeline order; for each, what must appear before the kill.
KILLED = (nodes.EXAMPLE_GEN, nodes.TRAINER, nodes.PRUNE_TRAINER, nodes.EVALUATOR,
          nodes.COMPRESS_EXPORTER)
# Seconds into a component's execution before the kill; the PruneTrainer's are counted from the
# end of its first weight-pruning epoch (`PRUNE_MARKER` in its log), so it dies in the second.
KILL_AFTER_S = {nodes.EXAMPLE_GEN: 3.0, nodes.TRAINER: 4.0, nodes.PRUNE_TRAINER: 0.5,
                nodes.EVALUATOR: 3.0, nodes.COMPRESS_EXPORTER: 4.0}
PRUNE_MARKER = progress.epoch_started_prefix(progress.WEIGHTS_PHASE, 1)
RUN_TIMEOUT_S = 1200


def executions(store_path: Path, pipeline: str) -> dict[str, list]:
    from pipelines import metadata

    if not store_path.is_file():
        return {}
    try:
        return metadata.node_executions(metadata.open_sqlite(str(store_path)), pipeline)
    except Exception:  # the runner is creating the schema; try again on the next poll
        return {}


def running_since(store_path: Path, pipeline: str, node: str, known: int) -> bool:
    """Whether `node` has an execution newer than its first `known` ones, still RUNNING."""
    from ml_metadata.proto import metadata_store_pb2

    found = executions(store_path, pipeline).get(node, [])
    return len(found) > known and (
        found[-1].last_known_state == metadata_store_pb2.Execution.RUNNING)


def start_run(env: dict, log_path: Path) -> subprocess.Popen:
    log = open(log_path, "w")  # noqa: SIM115 (the child writes it; closed with the process)
    return subprocess.Popen([sys.executable, "-m", "pipelines.local_runner"], env=env,
                            stdout=log, stderr=subprocess.STDOUT, cwd=configs.PROJECT_ROOT,
                            start_new_session=True)


def kill_during(env: dict, log_path: Path, store_path: Path, pipeline: str,
                node: str) -> dict:
    """Runs the pipeline and SIGKILLs the whole run `KILL_AFTER_S[node]` s into `node`."""
    known = len(executions(store_path, pipeline).get(node, []))
    process = start_run(env, log_path)
    started = time.monotonic()
    marker = PRUNE_MARKER if node == nodes.PRUNE_TRAINER else None
    caught = None
    while process.poll() is None and time.monotonic() - started < RUN_TIMEOUT_S:
        if running_since(store_path, pipeline, node, known) and (
                marker is None or marker in log_path.read_text(errors="replace")):
            caught = time.monotonic()
            break
        time.sleep(0.2)
    if caught is None:
        process.kill()
        raise SystemExit(f"faults: {node} never ran (exit {process.poll()}); log {log_path}")
    time.sleep(KILL_AFTER_S[node])
    if process.poll() is not None:
        raise SystemExit(f"faults: the run ended before the kill in {node}; log {log_path}")
    os.killpg(process.pid, signal.SIGKILL)
    killed_at = time.time()
    process.wait(timeout=60)
    execution = executions(store_path, pipeline)[node][-1]
    return {"killed": node,
            "seconds_into_component": round(
                killed_at - execution.create_time_since_epoch / 1000, 1),
            "run_seconds": round(time.monotonic() - started, 1)}


def run_to_end(env: dict, log_path: Path) -> float:
    started = time.monotonic()
    process = start_run(env, log_path)
    if process.wait(timeout=RUN_TIMEOUT_S):
        raise SystemExit(f"faults: the run after the kills failed; log {log_path}")
    return round(time.monotonic() - started, 1)


def after_run(store_path: Path, pipeline: str) -> dict:
    """What ML Metadata and prune-lineage say after a run."""
    from ml_metadata.proto import metadata_store_pb2

    from pipelines import metadata
    from pipelines.lineage.queries import SHORTCUTS, Lineage
    from pipelines.lineage.store import LineageError

    store = metadata.open_sqlite(str(store_path))
    lineage = Lineage(store, pipeline)
    runs = lineage.runs()
    found = metadata.node_executions(store, pipeline)
    newest = {node: metadata.execution_state(e[-1]) for node, e in found.items()}
    unfinished = [e for found_for_node in found.values() for e in found_for_node
                  if e.last_known_state == metadata_store_pb2.Execution.RUNNING]
    published = [event.artifact_id for event in store.get_events_by_execution_ids(
        [e.id for e in unfinished]) if event.type == metadata_store_pb2.Event.OUTPUT]
    pending = [a.id for a in store.get_artifacts() if not metadata.published(a)]
    killed = {e.id for e in unfinished}
    latest_from_killed = []
    for shortcut in SHORTCUTS:
        try:
            artifact = lineage.resolve(f"latest:{shortcut}")
        except LineageError:  # nothing of that kind yet
            continue
        produced = lineage.producer(artifact.id)
        if produced and produced[0] in killed:
            latest_from_killed.append(shortcut)
    pruned = metadata.newest_output(store, pipeline, nodes.PRUNED_MODEL)
    return {
        "newest_states": newest,
        "runs": [(run.name, run.state) for run in runs],
        "executions_left_running": [(lineage.execution_node.get(e.id), e.id)
                                    for e in unfinished],
        "outputs_published_by_killed_executions": published,
        "artifacts_not_live": pending,
        "latest_shortcuts_naming_a_killed_output": latest_from_killed,
        properties.RESUMED_FROM_EPOCH: (metadata.scalar_properties(pruned).get(
            properties.RESUMED_FROM_EPOCH) if pruned else None),
    }


def main(argv: list[str] | None = None) -> None:
    config = entrypoint.load_config_or_exit("faults", [], "make faults",
                                            environ={**os.environ, **FAULT_RUN})
    if config.tfds_manual_dir is None:
        entrypoint.fail("faults", f"needs the real {config.dataset_name} files: set "
                                  f"TFDS_MANUAL_DIR or put them in ../shared/data/"
                                  f"{config.dataset_name}")
    root = FAULTS_DIR / "pipeline"
    shutil.rmtree(root, ignore_errors=True)
    shutil.rmtree(FAULTS_DIR / "serving", ignore_errors=True)
    FAULTS_DIR.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, **FAULT_RUN, "PIPELINE_ROOT": str(root),
           "SERVING_MODEL_DIR": str(FAULTS_DIR / "serving")}
    store_path = root / "metadata.sqlite"
    records = []
    for index, node in enumerate(KILLED, start=1):
        print(f"faults: run {index}, SIGKILL during {node}", flush=True)
        record = kill_during(env, FAULTS_DIR / f"run{index}.log", store_path,
                             config.pipeline_name, node)
        record.update(after_run(store_path, config.pipeline_name))
        records.append(record)
        print(f"  killed {record['seconds_into_component']} s into {node}; left RUNNING: "
              f"{record['executions_left_running']}", flush=True)
    print(f"faults: run {len(KILLED) + 1}, to the end", flush=True)
    seconds = run_to_end(env, FAULTS_DIR / f"run{len(KILLED) + 1}.log")
    final = {"killed": None, "run_seconds": seconds,
             **after_run(store_path, config.pipeline_name)}
    records.append(final)
    (FAULTS_DIR / "results.json").write_text(json.dumps(records, indent=2))
    print(format_table(records))
    print(f"Wrote {FAULTS_DIR / 'results.json'}")


def format_table(records: list[dict]) -> str:
    lines = ["| run | killed during | then: newest execution of each node | prune-lineage runs "
             "| killed outputs published | resumed_from_epoch |", "|---|---|---|---|---|---|"]
    for index, record in enumerate(records, start=1):
        states = ", ".join(f"{node} {state}" for node, state in record["newest_states"].items())
        runs = ", ".join(state for _, state in record["runs"])
        lines.append(f"| {index} | {record['killed'] or '(none)'} | {states} | {runs} "
                     f"| {len(record['outputs_published_by_killed_executions'])} "
                     f"| {record[properties.RESUMED_FROM_EPOCH]} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
