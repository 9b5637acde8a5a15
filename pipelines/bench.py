"""`make bench`: the default pipeline on real MNIST, timed and measured, into build/bench/.

    python -m pipelines.bench            # fresh root, full run, unchanged rerun -> results.json
    python -m pipelines.bench --sweep    # one pruned model per target sparsity -> Pareto plot

Each run is `python -m pipelines.local_runner` in a subprocess, so the wall times include what a
user waits for (imports included). Figures come from the CompressExporter's report.json and ML
Metadata. Every other option keeps its default (or what the environment sets).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from pipelines import cli, configs

BENCH_DIR = configs.BUILD_DIR / "bench"
DEFAULT_SWEEP = (0.5, 0.8, 0.9, 0.95, 0.97, 0.99, 0.995)
RESULT_KEYS = (
    "baseline_accuracy", "pruned_accuracy", "pruned_sparsity", "int8_tflite_accuracy",
    "gzip_bytes_baseline_float_tflite", "gzip_bytes_pruned_int8_tflite", "compression_ratio",
    "latency_ms_float", "latency_ms_int8", "int8_speedup", "blessed",
)
GOALS = {  # key: (comparison, value) from issue 4
    "baseline_accuracy": (">=", 0.994),
    "pruned_sparsity": (">=", 0.95),
    "pruned_accuracy_drop_pp": ("<=", 0.2),
    "int8_accuracy_drop_pp": ("<=", 0.3),
    "compression_ratio": (">=", 40.0),
    "int8_speedup": (">=", 2.0),
    "wall_seconds_total": ("<=", 300.0),
    "wall_seconds_cached_rerun": ("<=", 30.0),
}


def run_pipeline(env: dict[str, str], log_path: Path) -> float:
    """Runs the local runner once; returns its wall seconds. Fails loudly with the log's tail."""
    started = time.monotonic()
    with open(log_path, "w") as log:
        done = subprocess.run([sys.executable, "-m", "pipelines.local_runner"], env=env,
                              stdout=log, stderr=subprocess.STDOUT, cwd=configs.PROJECT_ROOT)
    seconds = time.monotonic() - started
    if done.returncode:
        tail = log_path.read_text()[-3000:]
        raise SystemExit(f"Pipeline failed (exit {done.returncode}); log {log_path}:\n{tail}")
    return seconds


def component_seconds(metadata_path: str, pipeline_name: str, run_index: int = 0) -> dict:
    """Wall seconds of each node's `run_index`-th execution, as ML Metadata recorded them."""
    from pipelines import outputs

    store = outputs.open_store(metadata_path)
    seconds = {}
    for context in store.get_contexts_by_type(outputs.NODE_CONTEXT_TYPE):
        if not context.name.startswith(pipeline_name + "."):
            continue
        executions = sorted(store.get_executions_by_context(context.id), key=lambda e: e.id)
        if len(executions) > run_index:
            e = executions[run_index]
            node = context.name[len(pipeline_name) + 1:]
            seconds[node] = round(
                (e.last_update_time_since_epoch - e.create_time_since_epoch) / 1000, 1)
    return seconds


def newest_report(metadata_path: str) -> dict:
    from components.compress_exporter.spec import CompressionReport
    from pipelines import outputs

    store = outputs.open_store(metadata_path)
    reports = store.get_artifacts_by_type(CompressionReport.TYPE_NAME)
    if not reports:
        raise SystemExit(f"No CompressionReport in {metadata_path}")
    newest = max(reports, key=lambda a: a.id)
    with open(os.path.join(newest.uri, "report.json")) as f:
        return json.load(f)


def result_figures(summary: dict) -> dict:
    """The report's figures that results.json keeps, plus each model's accuracy drop against the
    baseline in percentage points (the goals are stated as drops)."""
    results = {key: summary.get(key) for key in RESULT_KEYS}
    baseline = summary["baseline_accuracy"]
    for name, key in (("pruned", "pruned_accuracy"), ("int8", "int8_tflite_accuracy")):
        results[f"{name}_accuracy_drop_pp"] = round((baseline - summary[key]) * 100, 2)
    return results


def bench(env: dict[str, str]) -> dict:
    root = BENCH_DIR / "pipeline"
    shutil.rmtree(root, ignore_errors=True)
    shutil.rmtree(BENCH_DIR / "serving", ignore_errors=True)
    env = {**env, "PIPELINE_ROOT": str(root), "SERVING_MODEL_DIR": str(BENCH_DIR / "serving")}
    print(f"bench: full run into a fresh root {root} (log {BENCH_DIR / 'run.log'})", flush=True)
    total = run_pipeline(env, BENCH_DIR / "run.log")
    print(f"bench: full run took {total:.1f} s; rerunning unchanged", flush=True)
    cached = run_pipeline(env, BENCH_DIR / "rerun.log")
    config = configs.load_config([], environ=env)
    results = result_figures(newest_report(config.resolved_metadata_path)["summary"])
    results["wall_seconds_total"] = round(total, 1)
    results["wall_seconds_cached_rerun"] = round(cached, 1)
    results["wall_seconds_per_component"] = component_seconds(
        config.resolved_metadata_path, config.pipeline_name)
    return results


def format_table(results: dict) -> str:
    lines = [f"{'figure':<34} {'value':>14}  goal"]
    for key, value in results.items():
        if isinstance(value, dict):
            for node, seconds in value.items():
                lines.append(f"  {key[:-len('_per_component')] + ' ' + node:<32} {seconds:>14}")
            continue
        goal = GOALS.get(key)
        shown = f"{value:.4f}" if isinstance(value, float) else str(value)
        verdict = ""
        if goal and value is not None:
            met = value >= goal[1] if goal[0] == ">=" else value <= goal[1]
            verdict = f"{goal[0]} {goal[1]}: {'met' if met else 'NOT met'}"
        lines.append(f"{key:<34} {shown:>14}  {verdict}")
    return "\n".join(lines)


def sweep(env: dict[str, str], sparsities: list[float]) -> list[dict]:
    """One pipeline root for all points: data and baseline are computed once, then cached."""
    root = BENCH_DIR / "sweep_pipeline"
    shutil.rmtree(root, ignore_errors=True)
    rows = []
    for target in sparsities:
        point_env = {
            **env, "PIPELINE_ROOT": str(root),
            "SERVING_MODEL_DIR": str(BENCH_DIR / "sweep_serving"),
            "PRUNE_FINAL_SPARSITY": str(target), "PRUNE_LAYER_SPARSITY": "none",
            "PRUNE_INITIAL_SPARSITY": str(min(0.3, target)), "LATENCY_RUNS": "0",
        }
        print(f"sweep: target sparsity {target} (every pruned layer)", flush=True)
        seconds = run_pipeline(point_env, BENCH_DIR / f"sweep_{target}.log")
        config = configs.load_config([], environ=point_env)
        summary = newest_report(config.resolved_metadata_path)["summary"]
        rows.append({"target_sparsity": target, "wall_seconds": round(seconds, 1),
                     **{k: summary.get(k) for k in RESULT_KEYS if not k.startswith("latency")}})
        print(f"  sparsity {summary['pruned_sparsity']:.4f}  "
              f"pruned {summary['pruned_accuracy']:.4f}"
              f"  int8 {summary['int8_tflite_accuracy']:.4f}  "
              f"{summary['gzip_bytes_pruned_int8_tflite']:,} gzip bytes  "
              f"blessed {summary.get('blessed')}", flush=True)
    return rows


def plot_sweep(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axis = plt.subplots(figsize=(7, 4.2))
    sizes = [r["gzip_bytes_pruned_int8_tflite"] / 1024 for r in rows]
    for key, label, marker in (("int8_tflite_accuracy", "int8 TFLite", "o"),
                               ("pruned_accuracy", "Keras (pruned)", "s")):
        axis.plot(sizes, [r[key] * 100 for r in rows], marker=marker, label=label)
    for row, size in zip(rows, sizes, strict=True):
        note = "" if row["blessed"] else " (not blessed)"
        axis.annotate(f"{row['pruned_sparsity']:.3f}{note}",
                      (size, row["int8_tflite_accuracy"] * 100), textcoords="offset points",
                      xytext=(4, -12), fontsize=7)
    axis.axhline(rows[0]["baseline_accuracy"] * 100, color="gray", linestyle="--",
                 label="baseline (Keras)")
    axis.set_xscale("log")
    axis.set_xlabel("pruned full-int8 TFLite, gzip KiB (log)")
    axis.set_ylabel("accuracy on the eval split (%)")
    axis.set_title("Accuracy vs compressed size, one point per target sparsity")
    axis.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def sweep_table(rows: list[dict]) -> str:
    lines = ["| target | sparsity | Keras acc | int8 acc | int8 gzip bytes | ratio | blessed |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(
            f"| {r['target_sparsity']} | {r['pruned_sparsity']:.4f} | {r['pruned_accuracy']:.4f} "
            f"| {r['int8_tflite_accuracy']:.4f} | {r['gzip_bytes_pruned_int8_tflite']:,} "
            f"| {r['compression_ratio']:.1f}x | {'yes' if r['blessed'] else 'no'} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    default = " ".join(map(str, DEFAULT_SWEEP))
    parser.add_argument("--sweep", nargs="*", type=float, metavar="SPARSITY",
                        help=f"sweep target sparsities (default {default})")
    args = parser.parse_args(argv)
    for target in args.sweep or ():
        if not 0 < target < 1:
            cli.fail("bench", f"--sweep sparsities must be in (0, 1), got {target}")
    config = cli.load_config_or_exit("bench", [], "make bench")
    if config.resolved_manual_dir is None:
        cli.fail("bench", f"the benchmark needs the real {config.dataset_name} files: set "
                          f"TFDS_MANUAL_DIR or put them in ../shared/data/{config.dataset_name}")
    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "TF_USE_LEGACY_KERAS": "1"}
    if args.sweep is not None:
        rows = sweep(env, args.sweep or list(DEFAULT_SWEEP))
        (BENCH_DIR / "sweep.json").write_text(json.dumps(rows, indent=2))
        (BENCH_DIR / "sweep.md").write_text(sweep_table(rows))
        plot_sweep(rows, BENCH_DIR / "sweep.png")
        print(sweep_table(rows))
        print(f"Wrote {BENCH_DIR / 'sweep.json'}, sweep.md and sweep.png")
        return
    results = bench(env)
    (BENCH_DIR / "results.json").write_text(json.dumps(results, indent=2))
    print(format_table(results))
    print(f"Wrote {BENCH_DIR / 'results.json'}")


if __name__ == "__main__":
    main()
