"""`prune-lineage` on the store of the small pipeline's three runs (tests/pipelines/conftest.py)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from ml_metadata.proto import metadata_store_pb2 as mlmd

from pipelines import configs, metadata, nodes, stores
from pipelines.lineage import cli, queries, store

pytestmark = pytest.mark.e2e


def lineage(gated_runs, capsys, *args: str) -> tuple[int, str, str]:
    code = cli.main(["--sqlite", gated_runs.config.metadata_path, *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def lineage_json(gated_runs, capsys, *args: str):
    code, out, err = lineage(gated_runs, capsys, "--json", *args)
    assert code == 0, err
    return json.loads(out)


def test_pushed_model_traces_back_through_both_trainers_to_the_tfds_examples(gated_runs, capsys):
    graph = lineage_json(gated_runs, capsys, "lineage", "latest:pushed")
    artifacts = {int(k): v for k, v in graph["artifacts"].items()}
    executions = {int(k): v for k, v in graph["executions"].items()}
    root = artifacts[graph["root"]]
    assert (root["type"], root["properties"]["pushed"]) == ("PushedModel", 1)
    assert {e["node"] for e in executions.values()} == set(nodes.ALL)
    assert all(e["state"] == "COMPLETE" for e in executions.values())  # producers, not caches
    [examples] = [a for a in artifacts.values() if a["type"] == "Examples"]
    assert examples["properties"]["tfds_dataset"] == "mnist"
    assert examples["properties"]["tfds_version"]
    # The chain Examples -> Trainer -> Model -> PruneTrainer -> Model, as edges.
    node_of = {f"e{i}": e["node"] for i, e in executions.items()}
    made = {(node_of[s], artifacts[int(t[1:])]["type"])
            for s, t, _ in graph["edges"] if s[0] == "e"}
    read = {(artifacts[int(s[1:])]["node"], node_of[t], key)
            for s, t, key in graph["edges"] if s[0] == "a"}
    assert ("TfdsExampleGen", "Trainer", "examples") in read
    assert ("ExampleValidator", "Trainer", "anomalies") in read  # the validation it passed
    assert ("Trainer", "PruneTrainer", "base_model") in read
    assert ("PruneTrainer", "CompressExporter", "model") in read
    assert ("CompressExporter", "Pusher", "model") in read
    assert ("Pusher", "PushedModel") in made


@pytest.mark.parametrize("command", [["lineage", "latest:pushed"], ["runs"], ["compare"]])
def test_global_options_work_before_or_after_the_command(gated_runs, capsys, command):
    store_path = gated_runs.config.metadata_path
    outputs = []
    for argv in (["--json", "--sqlite", store_path, *command],
                 [*command, "--json", "--sqlite", store_path],
                 ["--sqlite", store_path, *command, "--json"]):
        assert cli.main(argv) == 0, capsys.readouterr().err
        outputs.append(json.loads(capsys.readouterr().out))
    assert outputs[0] == outputs[1] == outputs[2]


def test_lineage_tree_names_the_dataset_and_every_step(gated_runs, capsys):
    code, out, _ = lineage(gated_runs, capsys, "lineage", "latest:pushed")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith("artifact ") and "PushedModel Pusher.pushed_model" in lines[0]
    assert "tfds_dataset=mnist" in out
    for step in ("Pusher COMPLETE", "CompressExporter COMPLETE", "PruneTrainer COMPLETE",
                 "Trainer COMPLETE", "TfdsExampleGen COMPLETE"):
        assert step in out, step
    assert "(see above)" in out  # the Examples artifact is read by several steps, shown once


def test_downstream_of_the_examples_reaches_the_push(gated_runs, capsys):
    examples = gated_runs.artifacts[0]["TfdsExampleGen", "examples"].uri
    graph = lineage_json(gated_runs, capsys, "lineage", examples, "--downstream")
    types = {a["type"] for a in graph["artifacts"].values()}
    assert {"Model", "ModelBlessing", "components.CompressionReport", "PushedModel"} <= types
    assert any(e["state"] == "CACHED" for e in graph["executions"].values())


class CountingStore:
    """A MetadataStore that records the name of each call made on it."""

    def __init__(self, store):
        self.store, self.calls = store, []

    def __getattr__(self, name):
        method = getattr(self.store, name)

        def counted(*args, **kwargs):
            self.calls.append(name)
            return method(*args, **kwargs)

        return counted


def per_artifact_walk(counting: CountingStore, lineage: queries.Lineage,
                      artifact: mlmd.Artifact, downstream: bool) -> dict:
    """The lineage as a walk that asks the store about each artifact and execution it reaches,
    in the order it reaches them: what `Lineage.trace` must give."""
    step_in, step_out = ((mlmd.Event.INPUT, mlmd.Event.OUTPUT) if downstream
                         else (mlmd.Event.OUTPUT, mlmd.Event.INPUT))

    def edge(event):
        key = event.path.steps[0].key if event.path.steps else ""
        a, e = f"a{event.artifact_id}", f"e{event.execution_id}"
        return (a, e, key) if event.type == mlmd.Event.INPUT else (e, a, key)

    artifacts, executions, edges = {artifact.id: artifact}, {}, set()
    pending, seen = [artifact.id], set()
    while pending:
        current = pending.pop()
        if current in seen:
            continue
        seen.add(current)
        events = [e for e in counting.get_events_by_artifact_ids([current]) if e.type == step_in]
        if not downstream:  # the producer, not the cached executions that output it again
            events = sorted(events, key=lambda e: e.execution_id)[:1]
        for event in events:
            edges.add(edge(event))
            if event.execution_id in executions:
                continue
            [executions[event.execution_id]] = counting.get_executions_by_id([event.execution_id])
            for other in counting.get_events_by_execution_ids([event.execution_id]):
                if other.type == step_out:
                    edges.add(edge(other))
                    if other.artifact_id not in artifacts:
                        [artifacts[other.artifact_id]] = counting.get_artifacts_by_id(
                            [other.artifact_id])
                    pending.append(other.artifact_id)
    return {"root": artifact.id, "direction": "downstream" if downstream else "upstream",
            "artifacts": {i: lineage.artifact_info(a) for i, a in artifacts.items()},
            "executions": {i: lineage.execution_info(e) for i, e in executions.items()},
            "edges": sorted(edges)}


# The most requests a trace makes, however large the lineage: the events of the pipeline's
# executions, those of the artifacts reached (and of any other pipeline's executions that used
# them), the artifacts, the executions.
TRACE_REQUESTS = 5


@pytest.mark.parametrize(("reference", "downstream"),
                         [("latest:pushed", False), ("latest:examples", True)])
def test_a_trace_asks_the_store_a_few_times_however_large_the_lineage(gated_runs, reference,
                                                                      downstream):
    counting = CountingStore(metadata.open_sqlite(gated_runs.config.metadata_path))
    artifact = queries.Lineage(counting).resolve(reference)
    lineage = queries.Lineage(counting)  # a new one: the trace reads the events as well
    counting.calls.clear()
    graph = lineage.trace(artifact, downstream)
    assert len(counting.calls) <= TRACE_REQUESTS, counting.calls
    counting.calls.clear()
    expected = per_artifact_walk(counting, lineage, artifact, downstream)
    reached = len(graph["artifacts"]) + len(graph["executions"])
    assert len(counting.calls) >= reached > 2 * TRACE_REQUESTS  # a lineage larger than the bound
    assert graph == expected
    # In the same order too: --json and the graph files list them so.
    assert list(graph["artifacts"]) == list(expected["artifacts"])
    assert list(graph["executions"]) == list(expected["executions"])


def test_runs_show_what_ran_and_what_was_cached(gated_runs, capsys):
    runs = lineage_json(gated_runs, capsys, "runs")
    assert len(runs) == 3
    first, cached, strict = (run["components"] for run in runs)
    assert set(first.values()) == {"COMPLETE"} and len(first) == 9
    assert set(cached.values()) == {"CACHED"} and runs[1]["state"] == "CACHED"
    assert strict["Trainer"] == "CACHED" and strict["Evaluator"] == "COMPLETE"
    _, out, _ = lineage(gated_runs, capsys, "runs")
    assert out.count("CACHED") >= 10


def test_compare_prints_the_figures_the_exporter_recorded(gated_runs, capsys):
    runs = lineage_json(gated_runs, capsys, "runs")
    result = lineage_json(gated_runs, capsys, "compare", "--run", runs[0]["name"])
    report_path = Path(gated_runs.artifacts[0]["CompressExporter", "report"].uri) / "report.json"
    summary = json.loads(report_path.read_text())["summary"]
    tflite = result["figures"]["tflite"]
    assert tflite["compression_ratio"] == pytest.approx(summary["compression_ratio"])
    assert tflite["gzip_bytes_pruned_int8_tflite"] == summary["gzip_bytes_pruned_int8_tflite"]
    assert result["figures"]["gate"]["blessed"] == 1 and result["figures"]["push"]["pushed"] == 1
    code, out, _ = lineage(gated_runs, capsys, "compare", "--run", runs[0]["name"])
    assert code == 0
    assert f"{summary['compression_ratio']:.1f}x" in out
    assert f"{summary['gzip_bytes_pruned_int8_tflite']:,}" in out and "Evaluator: blessed" in out
    _, out, _ = lineage(gated_runs, capsys, "compare")  # latest: the strict run
    assert "Evaluator: NOT blessed" in out and "Pusher: nothing pushed" in out


def test_artifacts_filter_by_type_and_run(gated_runs, capsys):
    pushed = lineage_json(gated_runs, capsys, "artifacts", "--type", "PushedModel")
    assert [a["properties"]["pushed"] for a in pushed] == [1, 0]
    in_first_run = lineage_json(gated_runs, capsys, "artifacts", "--run",
                                lineage_json(gated_runs, capsys, "runs")[0]["name"])
    assert {a["type"] for a in in_first_run} >= {"Examples", "Model", "PushedModel"}
    assert all(a["state"] == "LIVE" for a in in_first_run)


def test_graph_formats(gated_runs, capsys, tmp_path):
    code, dot, _ = lineage(gated_runs, capsys, "graph", "latest:tflite", "--format", "dot")
    assert code == 0 and dot.startswith("digraph lineage {") and "PruneTrainer" in dot
    code, mermaid, _ = lineage(gated_runs, capsys, "graph", "latest:tflite", "--format", "mermaid")
    assert code == 0 and mermaid.startswith("flowchart LR") and "-->|base_model|" in mermaid
    as_json = lineage_json(gated_runs, capsys, "graph", "latest:tflite", "--format", "mermaid")
    assert as_json["content"].startswith("flowchart LR") and as_json["graph"]["edges"]


def test_graph_png_is_drawn_by_graphviz(gated_runs, capsys, tmp_path):
    # The OS step installs Graphviz (scripts/setup_os.sh); without it this test fails.
    assert shutil.which("dot"), "Graphviz's dot is missing: run `bash scripts/setup_os.sh`"
    png = tmp_path / "lineage.png"
    code, _, err = lineage(gated_runs, capsys, "graph", "latest:model", "--format", "png",
                           "--output", str(png))
    assert code == 0, err
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_graph_png_without_graphviz_says_what_to_install(gated_runs, capsys, tmp_path,
                                                         monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    png = tmp_path / "lineage.png"
    code, _, err = lineage(gated_runs, capsys, "graph", "latest:model", "--format", "png",
                           "--output", str(png))
    assert code == 2 and "Graphviz" in err and "apt-get install graphviz" in err
    assert not png.exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [(["lineage", "99999"], "No artifact with id 99999"),
     (["lineage", "/no/such/uri"], "No artifact '/no/such/uri'"),
     (["lineage", "latest:nothing"], "Unknown shortcut latest:nothing"),
     (["compare", "--run", "no-such-run"], "No run 'no-such-run'"),
     (["artifacts", "--type", "Modle"], "No artifact type 'Modle'")],
)
def test_bad_references_exit_with_a_message(gated_runs, capsys, args, message):
    code, out, err = lineage(gated_runs, capsys, *args)
    assert code == 2 and out == ""
    assert message in err and "Traceback" not in err


def test_a_wrong_store_path_fails_cleanly_from_the_command_line(tmp_path):
    missing = tmp_path / "nowhere" / "metadata.sqlite"
    done = subprocess.run([sys.executable, "-m", "pipelines.lineage", "--sqlite", str(missing),
                           "runs"], capture_output=True, text=True, cwd=configs.PROJECT_ROOT,
                          timeout=60)
    assert done.returncode == 2
    assert f"No ML Metadata database at {missing}" in done.stderr
    assert "Traceback" not in done.stderr and not missing.exists()


def _closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize(
    ("flags", "message"),
    [(["--grpc-host", "127.0.0.1", "--grpc-port"], "Cannot read ML Metadata at gRPC 127.0.0.1:"),
     (["--mysql-host", "127.0.0.1", "--mysql-port"], "Cannot reach ML Metadata at MySQL root@")],
)
def test_an_unreachable_service_fails_at_once(capsys, flags, message):
    code = cli.main([*flags, str(_closed_port()), "runs"])
    err = capsys.readouterr().err
    assert code == 2 and message in err and "Traceback" not in err


def test_console_script_is_installed():
    script = Path(sys.executable).parent / "prune-lineage"
    done = subprocess.run([str(script), "--help"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "lineage" in done.stdout and "--grpc-host" in done.stdout


@pytest.mark.parametrize(
    ("environ", "expected"),
    [({}, "build/pipelines/mnist_pruning/metadata.sqlite"),
     ({"DATASET": "fashion_mnist"}, "build/pipelines/fashion_mnist_pruning/metadata.sqlite"),
     ({"PIPELINE_NAME": "other"}, "build/pipelines/other/metadata.sqlite"),
     ({"PIPELINE_ROOT": "/tmp/r"}, "/tmp/r/metadata.sqlite"),
     ({"PIPELINE_ROOT": "/tmp/r", "METADATA_PATH": "/tmp/m.sqlite"}, "/tmp/m.sqlite"),
     # Options that do not decide the store are not read (nor checked).
     ({"PRUNE_FINAL_SPARSITY": "1.5"}, "build/pipelines/mnist_pruning/metadata.sqlite")],
)
def test_default_store_is_the_one_make_run_writes(environ, expected):
    assert store.default_store(environ) == stores.SqliteStore(
        str(configs.PROJECT_ROOT / expected))
    if "PRUNE_FINAL_SPARSITY" not in environ:
        assert configs.load_config([], environ=environ).metadata_path == str(
            configs.PROJECT_ROOT / expected)
