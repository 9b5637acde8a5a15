"""`make bench BENCH_ARGS="--model resnet8 ds_cnn cnn"`: structured pruning of each model against
TFMOT's weight pruning alone of the same baseline, measured in one run.

For each model (a shipped short name or a model module, `MODEL_MODULE`), in its own pipeline
root under build/bench/models/<name>/:

1. the pipeline with that model and its defaults: the baseline; the narrowed, weight-pruned,
   int8 model; MACs and parameters of both (`pruning.model.macs`); int8 LiteRT latency; the
   micro file's flash and arena in TFLite Micro;
2. the peer: the same pipeline with structured pruning off and clustering off, so the
   PruneTrainer is TFMOT's weight pruning alone of the same (cached) baseline, at each of
   PEER_SPARSITIES; the sparsest whose int8 file stays within the accuracy budget
   (ACCURACY_BUDGET_PP of the baseline's accuracy, the goal's) is the peer. Its files are
   converted as TFMOT's guides convert a pruned model (stripped, then the TFLite converter with
   the default optimizations); its float file is also timed in the converter's sparse format.
   XNNPACK's sparse inference cannot be switched on from LiteRT's Python interpreter, and
   XNNPACK runs it on pre-AVX x86 only (google/XNNPACK#3170), so here the sparse file runs
   dense.

The speed-ups are each run's own: a pruned file's batch-1 latency against its baseline's file,
timed in turns in the same process (`pruning.compression.tflite.latencies_ms`). The peer's is
its best: int8 against int8, or the sparse float file against the baseline's float file.
Results: build/bench/models/results.json (with the machine: CPU model, cores, date, commit) and
models.png.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import time
from pathlib import Path

from pipelines import bench, configs, nodes
from pipelines.bench import Goal
from pruning.compression import report

MODELS_DIR = configs.BUILD_DIR / "bench" / "models"
PEER_SPARSITIES = (0.5, 0.75, 0.9)
ACCURACY_BUDGET_PP = 0.5  # the deployed file's accuracy within this of its baseline's


NARROW_SECONDS_GOAL = 2.0  # structured.narrow on MobileNetV2, in seconds
MACS_REMOVED = "macs_removed"
SPEEDUP_OVER_PEER = "speedup_over_peer"
GOALS = (
    Goal(MACS_REMOVED, ">=", 0.5, "structured pruning removes at least half the MACs"),
    Goal(report.FIGURE.int8_accuracy_drop_pp, "<=", ACCURACY_BUDGET_PP,
              "the deployed int8 file within 0.5 pp of its own baseline's accuracy"),
    Goal(report.FIGURE.pruning_speedup_int8, ">=", 2.0,
              "the deployed int8 file at least 2x faster (LiteRT) than its baseline's int8 file"),
    Goal(SPEEDUP_OVER_PEER, ">=", 1.5,
              "its speed-up at least 1.5x the speed-up of TFMOT's weight pruning alone"),
    Goal(report.FIGURE.micro_litert_agreement, ">=", 0.999,
              "TFLite Micro gives LiteRT's class on the micro file"),
)


def machine() -> dict:
    """Where the figures were measured: CPU model, cores, date, commit."""
    model = platform.processor() or "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
        with open("/proc/cpuinfo") as f:
            flags = next((line for line in f if line.startswith("flags")), "")
    except OSError:
        flags = ""
    vector = ("AVX-512" if " avx512f" in flags else "AVX2" if " avx2" in flags else "no AVX2")
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True, cwd=configs.PROJECT_ROOT, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        commit = "unknown"
    return {"cpu": model, "vector": vector, "cores": os.cpu_count(),
            "date": time.strftime("%Y-%m-%d"), "commit": commit}


def _environment(env: dict[str, str], name: str, **options: str) -> dict[str, str]:
    root = MODELS_DIR / name
    return {**env, "MODEL_MODULE": name, "PIPELINE_NAME": f"bench_{_slug(name)}",
            "PIPELINE_ROOT": str(root / "pipeline"),
            "SERVING_MODEL_DIR": str(root / "serving"), **options}


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in Path(name).stem)


def _models_of(config: configs.PipelineConfig) -> tuple:
    """(baseline, pruned) Keras models of the newest run."""
    from components import model_artifact
    from pipelines import metadata

    store = metadata.open_store(config.metadata_store)
    return tuple(model_artifact.load_model(
        metadata.newest_output(store, config.pipeline_name, output).uri)
        for output in (nodes.BASELINE_MODEL, nodes.PRUNED_MODEL))


def _latencies(config: configs.PipelineConfig) -> dict[str, float]:
    """Every file's latency the exporter timed (report.json), the sparse float file's too."""
    from pipelines import metadata
    from pruning.compression import documents

    store = metadata.open_store(config.metadata_store)
    uri = metadata.newest_output(store, config.pipeline_name, nodes.REPORT).uri
    with open(os.path.join(uri, documents.REPORT_JSON)) as f:
        return json.load(f).get("latency_ms", {})


def structured_run(env: dict[str, str], name: str, log_dir: Path) -> dict:
    """The pipeline with model `name` and its defaults; its figures, MACs and parameters."""
    from pruning.model import macs

    run_env = _environment(env, name)
    print(f"models: {name}: the pipeline with structured pruning (log "
          f"{log_dir / 'structured.log'})", flush=True)
    seconds = bench.run_pipeline(run_env, log_dir / "structured.log")
    config = configs.load_config([], environ=run_env)
    figures = bench.result_figures(bench.exporter_figures(config.metadata_store,
                                                          config.pipeline_name))
    baseline, pruned = _models_of(config)
    figures.update({
        "wall_seconds": round(seconds, 1),
        "macs_baseline": macs.count_macs(baseline), "macs_pruned": macs.count_macs(pruned),
        "parameters_baseline": int(baseline.count_params()),
        "parameters_pruned": int(pruned.count_params()),
        "filter_sparsity": config.prune_filter_sparsity,
    })
    figures[MACS_REMOVED] = round(1 - figures["macs_pruned"] / figures["macs_baseline"], 4)
    return figures


def peer_runs(env: dict[str, str], name: str, log_dir: Path) -> list[dict]:
    """TFMOT's weight pruning alone of the same baseline (cached), at each PEER_SPARSITIES."""
    rows = []
    for sparsity in PEER_SPARSITIES:
        run_env = _environment(env, name, PRUNE_FILTER_SPARSITY="none", CLUSTER_COUNT="0",
                               PRUNE_LAYER_SPARSITY="none",
                               PRUNE_FINAL_SPARSITY=str(sparsity),
                               PRUNE_INITIAL_SPARSITY=str(min(0.3, sparsity)))
        log = log_dir / f"tfmot_{sparsity}.log"
        print(f"models: {name}: TFMOT's weight pruning alone at sparsity {sparsity} (log {log})",
              flush=True)
        bench.run_pipeline(run_env, log)
        config = configs.load_config([], environ=run_env)
        figures = bench.result_figures(bench.exporter_figures(config.metadata_store,
                                                              config.pipeline_name))
        latency = _latencies(config)
        sparse = latency.get("pruned_float_sparse")
        figures["target_sparsity"] = sparsity
        figures["speedup_float_sparse"] = (latency["baseline_float"] / sparse
                                           if sparse else None)
        rows.append(figures)
    return rows


def choose_peer(rows: list[dict]) -> tuple[dict, bool]:
    """The sparsest peer run within the accuracy budget, and whether one was; else the one
    that lost the least accuracy."""
    within = [row for row in rows
              if row[report.FIGURE.int8_accuracy_drop_pp] <= ACCURACY_BUDGET_PP]
    if within:
        return max(within, key=lambda row: row["target_sparsity"]), True
    return min(rows, key=lambda row: row[report.FIGURE.int8_accuracy_drop_pp]), False


def peer_speedup(row: dict) -> float:
    """The peer's best speed-up: int8 against int8, or its sparse float file against float."""
    return max(value for value in (row[report.FIGURE.pruning_speedup_int8],
                                   row.get("speedup_float_sparse")) if value is not None)


def narrow_seconds() -> float:
    """Median seconds of `structured.narrow` on MobileNetV2 (96x96x3, alpha 0.35, ten
    classes, about 150 layers), every prunable group losing half its channels."""
    import statistics

    import tf_keras as keras

    from pruning import structured

    model = keras.applications.MobileNetV2(input_shape=(96, 96, 3), alpha=0.35, weights=None,
                                           classes=10)
    times = []
    for _ in range(3):
        started = time.perf_counter()
        structured.narrow(model, 0.5)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def bench_model(env: dict[str, str], name: str) -> dict:
    log_dir = MODELS_DIR / _slug(name)
    log_dir.mkdir(parents=True, exist_ok=True)
    ours = structured_run(env, name, log_dir)
    peers = peer_runs(env, name, log_dir)
    peer, within = choose_peer(peers)
    result = {"model": name, "structured": ours, "tfmot": peers,
              "tfmot_chosen_sparsity": peer["target_sparsity"], "tfmot_within_budget": within,
              "tfmot_speedup": peer_speedup(peer)}
    result[SPEEDUP_OVER_PEER] = round(
        ours[report.FIGURE.pruning_speedup_int8] / result["tfmot_speedup"], 3)
    return result


def goal_lines(result: dict) -> list[str]:
    figures = {**result["structured"], SPEEDUP_OVER_PEER: result[SPEEDUP_OVER_PEER]}
    lines = []
    for goal in GOALS:
        value = figures.get(goal.figure)
        shown = "-" if value is None else f"{value:.4f}" if isinstance(value, float) else value
        met = value is not None and goal.met(value)
        lines.append(f"  {goal.figure:<30} {shown:>12} {goal.comparison} {goal.value:g}: "
                     f"{'met' if met else 'NOT met'}  ({goal.why})")
    return lines


def format_results(results: list[dict], machine_info: dict, seconds: float) -> str:
    lines = [f"models on {machine_info['cpu']} ({machine_info['vector']}, "
             f"{machine_info['cores']} cores), {machine_info['date']}, commit "
             f"{machine_info['commit']}",
             f"structured.narrow on MobileNetV2 (96x96x3, alpha 0.35): {seconds:.2f} s (goal "
             f"<= {NARROW_SECONDS_GOAL:g} s: "
             + ("met" if seconds <= NARROW_SECONDS_GOAL else "NOT met") + ")",
             "",
             "| model | baseline | deployed int8 | drop pp | MACs | MACs removed | params | "
             "int8 ms | speed-up | TFMOT sparsity | TFMOT drop pp | TFMOT speed-up | "
             "ratio | micro flash B | arena B | TFLM agreement |",
             "|" + "---|" * 16]
    for result in results:
        ours = result["structured"]
        peer = next(row for row in result["tfmot"]
                    if row["target_sparsity"] == result["tfmot_chosen_sparsity"])
        lines.append(
            f"| {result['model']} | {ours['baseline_accuracy'] * 100:.2f} % "
            f"| {ours['int8_tflite_accuracy'] * 100:.2f} % "
            f"| {ours['int8_accuracy_drop_pp']:.2f} "
            f"| {ours['macs_baseline']:,} -> {ours['macs_pruned']:,} "
            f"| {ours[MACS_REMOVED] * 100:.1f} % "
            f"| {ours['parameters_baseline']:,} -> {ours['parameters_pruned']:,} "
            f"| {ours['latency_ms_baseline_int8']:.4f} -> {ours['latency_ms_pruned_int8']:.4f} "
            f"| {ours['pruning_speedup_int8']:.2f}x "
            f"| {peer['target_sparsity']}{'' if result['tfmot_within_budget'] else ' (over)'} "
            f"| {peer['int8_accuracy_drop_pp']:.2f} | {result['tfmot_speedup']:.2f}x "
            f"| {result[SPEEDUP_OVER_PEER]:.2f} "
            f"| {ours.get('flash_bytes_micro', 0):,} | {ours.get('arena_bytes_micro') or 0:,} "
            f"| {(ours.get('micro_litert_agreement') or 0) * 100:.2f} % |")
    for result in results:
        lines += ["", f"{result['model']}: goals", *goal_lines(result)]
    return "\n".join(lines)


def plot(results: list[dict], path: Path) -> None:
    """Per model: the speed-up of structured pruning and of TFMOT's weight pruning alone (bars),
    and the accuracy each costs (points), against the goals' lines."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5))
    names = [result["model"] for result in results]
    positions = range(len(names))
    ours = [result["structured"][report.FIGURE.pruning_speedup_int8] for result in results]
    peers = [result["tfmot_speedup"] for result in results]
    left.bar([p - 0.2 for p in positions], ours, 0.4, label="structured + weight pruning (int8)")
    left.bar([p + 0.2 for p in positions], peers, 0.4, label="TFMOT weight pruning alone (best)")
    left.axhline(2.0, color="gray", linestyle=":", label="goal: 2x")
    left.axhline(1.0, color="black", linewidth=0.8)
    left.set_xticks(list(positions), names)
    left.set_ylabel("LiteRT batch-1 speed-up over the baseline's file")
    left.set_title("Speed-up (same baseline, same accuracy budget)")
    left.legend(fontsize=8)
    drops = [result["structured"][report.FIGURE.int8_accuracy_drop_pp] for result in results]
    removed = [result["structured"][MACS_REMOVED] * 100 for result in results]
    right.scatter(removed, drops)
    for name, x, y in zip(names, removed, drops, strict=True):
        right.annotate(name, (x, y), textcoords="offset points", xytext=(4, 4), fontsize=8)
    right.axhline(ACCURACY_BUDGET_PP, color="gray", linestyle=":", label="budget: 0.5 pp")
    right.axvline(50, color="gray", linestyle="--", label="goal: 50 % of MACs removed")
    right.set_xlabel("MACs removed by structured pruning (%)")
    right.set_ylabel("deployed int8 accuracy drop (pp)")
    right.set_title("What structured pruning removes, and what it costs")
    right.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(env: dict[str, str], names: list[str]) -> None:
    MODELS_DIR.mkdir(parents=True, exist_ok=True)
    info = machine()
    print(f"models: {', '.join(names)} on {info['cpu']} ({info['cores']} cores)", flush=True)
    seconds = narrow_seconds()
    results = [bench_model(env, name) for name in names]
    (MODELS_DIR / "results.json").write_text(json.dumps(
        {"machine": info, "narrow_seconds_mobilenet_v2": round(seconds, 3), "models": results},
        indent=2))
    plot(results, MODELS_DIR / "models.png")
    print(format_results(results, info, seconds))
    print(f"Wrote {MODELS_DIR / 'results.json'} and {MODELS_DIR / 'models.png'}")
