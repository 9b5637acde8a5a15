"""`make bench`: the default pipeline on real MNIST, timed and measured, into build/bench/.

    python -m pipelines.bench            # fresh root, full run, unchanged rerun -> results.json
    python -m pipelines.bench --seeds 3  # and the same recipe with 2 more seeds -> seeds.png
    python -m pipelines.bench --sweep    # one pruned model per target sparsity -> Pareto plot
    python -m pipelines.bench --model resnet8 ds_cnn cnn  # each model against TFMOT's weight
                                         # pruning alone (pipelines/model_bench.py)

Each run is `python -m pipelines.local_runner` in a subprocess, so the wall times include what a
user waits for (imports included). The figures are the ones the CompressExporter recorded in ML
Metadata, and each component's seconds as ML Metadata recorded its execution. Every other option
keeps its default (or what the environment sets).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

from components import properties
from pipelines import configs, entrypoint, nodes, seeds, stores
from pruning.compression import report
from pruning.model import modules

BENCH_DIR = configs.BUILD_DIR / "bench"
DEFAULT_SWEEP = (0.5, 0.8, 0.9, 0.95, 0.97, 0.99, 0.995)
# The exporter's figures results.json keeps (declared in pruning/compression/report.py).
F = report.FIGURE
# The exporter's figures results.json keeps: every one of the default pipeline's (not the
# stored zeros of the int8 kernels, nor the PQAT file's, which the defaults do not write).
RESULT_KEYS = (
    F.baseline_accuracy, F.pruned_accuracy, F.pruned_sparsity, F.int8_tflite_accuracy,
    F.gzip_bytes_baseline_float_tflite, F.gzip_bytes_pruned_int8_tflite, F.compression_ratio,
    F.pruned_accuracy_drop_pp, F.int8_accuracy_drop_pp, F.quantization_speedup,
    F.raw_bytes_baseline_int8_tflite, F.raw_bytes_pruned_int8_tflite, F.raw_size_ratio_int8,
    F.latency_ms_baseline_float, F.latency_ms_baseline_int8, F.latency_ms_pruned_float,
    F.latency_ms_pruned_int8, F.pruning_speedup_float, F.pruning_speedup_int8,
    F.memory_bytes_baseline_int8, F.memory_bytes_pruned_int8, F.flash_bytes_micro,
    F.arena_bytes_micro, F.micro_accuracy, F.micro_accuracy_drop_pp, F.micro_litert_agreement,
    F.micro_litert_reference_agreement, F.latency_ms_micro_baseline, F.latency_ms_micro_pruned,
    F.blessed)
# The bench's own figures, beside the exporter's: its times, the control (seeds.CONTROL: the
# pruned model's shape trained from scratch, and the deployed file's accuracy above it,
# seeds.OVER_CONTROL_PP) and, with --seeds, the figures over several seeds.
WALL_SECONDS_TOTAL = "wall_seconds_total"
WALL_SECONDS_CACHED_RERUN = "wall_seconds_cached_rerun"
WALL_SECONDS_PER_COMPONENT = "wall_seconds_per_component"
CONTROL_MODEL = "control_model"  # what the control is, in words
SEEDS = "seeds"  # seeds.SeedRuns.as_dict
BENCH_FIGURES = (WALL_SECONDS_TOTAL, WALL_SECONDS_CACHED_RERUN, WALL_SECONDS_PER_COMPONENT,
                 seeds.CONTROL, CONTROL_MODEL, seeds.OVER_CONTROL_PP, SEEDS)


@dataclasses.dataclass(frozen=True)
class Goal:
    """What the default pipeline must reach on this project's machines, judged by `make bench`
    (docs/goals.md shows them, `make docs` writes it)."""

    figure: str  # a key of results.json
    comparison: str  # ">=" or "<="
    value: float
    why: str

    def met(self, value: float) -> bool:
        return value >= self.value if self.comparison == ">=" else value <= self.value


GOALS = (
    Goal(report.FIGURE.baseline_accuracy, ">=", 0.994,
         "the baseline every pruned figure is judged against is a well-trained CNN"),
    Goal(report.FIGURE.int8_accuracy_drop_pp, "<=", 0.3,
         "the deployed int8 file costs at most 0.3 percentage points of accuracy"),
    Goal(seeds.OVER_CONTROL_PP, ">=", 0.0,
         "pruning beats training the pruned shape from scratch (the control)"),
    Goal(report.FIGURE.pruning_speedup_int8, ">=", 3.0,
         "the deployed int8 file runs at least 3x faster than the baseline's int8 file"),
    Goal(report.FIGURE.pruning_speedup_float, ">=", 3.0,
         "and the pruned float file 3x faster than the baseline's float file"),
    Goal(report.FIGURE.raw_size_ratio_int8, ">=", 10.0,
         "the deployed int8 file takes a tenth of the baseline's flash"),
    Goal(report.FIGURE.gzip_bytes_pruned_int8_tflite, "<=", 12_000,
         "the deployed file downloads in 12 KB"),
    Goal(report.FIGURE.compression_ratio, ">=", 145.0,
         "gzip bytes of the baseline float file over the deployed int8 file's"),
    Goal(report.FIGURE.flash_bytes_micro, "<=", 16_384,
         "the micro file leaves room for firmware in a 64 KB-flash microcontroller"),
    Goal(report.FIGURE.arena_bytes_micro, "<=", 8_192,
         "and runs in half of a 16 KB-RAM microcontroller's memory (TFLite Micro's arena)"),
    Goal(report.FIGURE.micro_accuracy_drop_pp, "<=", 0.3,
         "the micro file in TFLite Micro costs at most 0.3 points of accuracy"),
    Goal(report.FIGURE.micro_litert_agreement, ">=", 0.999,
         "TFLite Micro's reference kernels give LiteRT's class on the same file"),
    Goal(WALL_SECONDS_TOTAL, "<=", 240.0,
         "a newcomer's first run of the default pipeline in 4 minutes"),
    Goal(WALL_SECONDS_CACHED_RERUN, "<=", 6.0,
         "an unchanged rerun from the cache in about the time of its imports"),
)
GOAL_OF = {goal.figure: goal for goal in GOALS}


# The run's lines worth showing while it runs: each component's start and end
# (pipelines/progress.py) and each trainer epoch (components/progress.py).
PROGRESS = re.compile(r"^pipeline: |\b(?:Trainer: epoch|PruneTrainer: \w+ epoch) \d+/\d+ done")


def progress_line(line: str) -> str | None:
    """The part of a log line to show, without its timestamp and checkpoint path; else None."""
    found = PROGRESS.search(line)
    if not found:
        return None
    return line[found.start():].split(", checkpoint in ")[0].rstrip()


def run_pipeline(env: dict[str, str], log_path: Path) -> float:
    """Runs the local runner once, its output into `log_path` and its progress lines on stdout;
    returns its wall seconds. Fails loudly with the log's tail."""
    started = time.monotonic()
    with open(log_path, "w", buffering=1) as log, subprocess.Popen(  # line by line: tail -f
            [sys.executable, "-m", "pipelines.local_runner"], env=env, text=True,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=configs.PROJECT_ROOT) as child:
        for line in child.stdout:
            log.write(line)
            shown = progress_line(line)
            if shown:
                print(f"  {shown}", flush=True)
    seconds = time.monotonic() - started
    if child.returncode:
        tail = log_path.read_text()[-3000:]
        raise SystemExit(f"Pipeline failed (exit {child.returncode}); log {log_path}:\n{tail}")
    return seconds


def component_seconds(store: stores.Store, pipeline_name: str, run_index: int = 0) -> dict:
    """Wall seconds of each node's `run_index`-th execution, as ML Metadata recorded them."""
    from pipelines import metadata

    executions = metadata.node_executions(metadata.open_store(store), pipeline_name)
    return {node: round(metadata.execution_seconds(found[run_index]), 1)
            for node, found in executions.items() if len(found) > run_index}


def exporter_figures(store: stores.Store, pipeline_name: str) -> dict:
    """The properties the newest CompressExporter execution recorded on its `compressed` output."""
    from pipelines import metadata

    artifact = metadata.newest_output(metadata.open_store(store), pipeline_name, nodes.COMPRESSED)
    if artifact is None:
        raise SystemExit(f"No {nodes.COMPRESSED.node} output in {store.describe()}")
    return metadata.scalar_properties(artifact)


def result_figures(figures: dict) -> dict:
    """The recorded figures that results.json keeps (the Evaluator's verdict as a boolean)."""
    results = {key: figures.get(key) for key in RESULT_KEYS}
    if results[report.FIGURE.blessed] is not None:
        results[report.FIGURE.blessed] = bool(results[report.FIGURE.blessed])
    return results


def control_accuracy(config: configs.PipelineConfig) -> tuple[float, str]:
    """(accuracy, what was trained): the pruned model's shape trained from scratch with the
    baseline's recipe (`make_baseline`) on the run's own Examples. Without structured pruning
    that shape is the baseline's, and the baseline is its control."""
    from pipelines import metadata

    store = metadata.open_store(config.metadata_store)
    pruned = metadata.scalar_properties(
        metadata.newest_output(store, config.pipeline_name, nodes.PRUNED_MODEL))
    kept = dict(item.split(":")
                for item in configs.comma_list(pruned.get(properties.KEPT_CHANNELS, "")))
    if not kept:
        baseline = exporter_figures(config.metadata_store, config.pipeline_name)
        return baseline[report.FIGURE.baseline_accuracy], "the baseline (same shape)"
    from components import model_artifact
    from pruning import data
    from pruning.training.baseline import make_control

    examples = metadata.newest_output(store, config.pipeline_name, nodes.EXAMPLES).uri
    pruned_model = model_artifact.load_model(
        metadata.newest_output(store, config.pipeline_name, nodes.PRUNED_MODEL).uri)
    epochs = config.training_params.epochs
    result = make_control(
        pruned_model, config.training_params, data.read_split(examples, "train"),
        data.read_split(examples, "eval"),
        on_epoch_end=lambda epoch, loss: print(
            f"  control: epoch {epoch + 1}/{epochs} done, loss {loss:.4f}", flush=True))
    widths = ", ".join(f"{name} {width}" for name, width in kept.items())
    return result.metrics.accuracy, f"the pruned model's shape ({widths})"


def bench(env: dict[str, str]) -> dict:
    root = BENCH_DIR / "pipeline"
    shutil.rmtree(root, ignore_errors=True)
    shutil.rmtree(BENCH_DIR / "serving", ignore_errors=True)
    env = {**env, "PIPELINE_ROOT": str(root), "SERVING_MODEL_DIR": str(BENCH_DIR / "serving")}
    print(f"bench: [1/3] full run into a fresh root {root} (log {BENCH_DIR / 'run.log'})",
          flush=True)
    total = run_pipeline(env, BENCH_DIR / "run.log")
    print(f"bench: [1/3] full run took {total:.1f} s\nbench: [2/3] unchanged rerun (log "
          f"{BENCH_DIR / 'rerun.log'})", flush=True)
    cached = run_pipeline(env, BENCH_DIR / "rerun.log")
    print(f"bench: [2/3] unchanged rerun took {cached:.1f} s", flush=True)
    config = configs.load_config([], environ=env)
    results = result_figures(exporter_figures(config.metadata_store,
                                              config.pipeline_name))
    results[WALL_SECONDS_TOTAL] = round(total, 1)
    results[WALL_SECONDS_CACHED_RERUN] = round(cached, 1)
    results[WALL_SECONDS_PER_COMPONENT] = component_seconds(
        config.metadata_store, config.pipeline_name)
    print("bench: [3/3] training the control (the pruned model's shape, from scratch)",
          flush=True)
    started = time.monotonic()
    accuracy, shape = control_accuracy(config)
    print(f"bench: [3/3] control trained in {time.monotonic() - started:.1f} s: accuracy "
          f"{accuracy:.4f}", flush=True)
    results[seeds.CONTROL] = accuracy
    results[CONTROL_MODEL] = shape
    results[seeds.OVER_CONTROL_PP] = round(
        (results[report.FIGURE.int8_tflite_accuracy] - accuracy) * 100, 2)
    return results


def seed_run(env: dict[str, str], seed: int, label: str) -> dict:
    """The same recipe with another seed, in the first seed's root: the data nodes come from
    the cache, both trainers, the Evaluator and the exporter run again. Returns its figures
    (RESULT_KEYS) with its control's accuracy."""
    seed_env = {**env, "PIPELINE_ROOT": str(BENCH_DIR / "pipeline"),
                "SERVING_MODEL_DIR": str(BENCH_DIR / "serving"), "SEED": str(seed)}
    log = BENCH_DIR / f"run_seed_{seed}.log"
    print(f"bench: {label} full run with SEED={seed} (log {log})", flush=True)
    seconds = run_pipeline(seed_env, log)
    config = configs.load_config([], environ=seed_env)
    figures = result_figures(exporter_figures(config.metadata_store, config.pipeline_name))
    print(f"bench: {label} run took {seconds:.1f} s; training its control", flush=True)
    figures[seeds.CONTROL], _ = control_accuracy(config)
    return figures


def run_seeds(env: dict[str, str], first: dict, count: int) -> seeds.SeedRuns:
    """`first`: the bench's results with the configured seed; `count - 1` more seeds after it."""
    base = configs.load_config([], environ=env).training_params.seed
    runs = [first]
    for index in range(1, count):
        runs.append(seed_run(env, base + index, f"[seed {index + 1}/{count}]"))
    return seeds.SeedRuns.from_runs([base + index for index in range(count)], runs)


def goals_on_means(runs: seeds.SeedRuns) -> str:
    """The accuracy goals judged on the means of the seeds, each saying whether one standard
    deviation of its figure reaches across the goal's value (then the seeds cannot tell)."""
    lines = [f"accuracy goals on the means of {len(runs.seeds)} seeds:"]
    for goal in GOALS:
        try:
            spread = runs.figure(goal.figure)
        except KeyError:
            continue
        scale = 100 if goal.figure in seeds.ACCURACIES else 1
        mean, std = spread.mean * scale, spread.std * scale
        close = abs(mean - goal.value * scale) < std
        lines.append(
            f"  {goal.figure:<32} mean {mean:.2f} ± {std:.2f} {goal.comparison} "
            f"{goal.value * scale:g}: {'met' if goal.met(spread.mean) else 'NOT met'}"
            + ("; not distinguishable from the goal (within one standard deviation)"
               if close else ""))
    return "\n".join(lines)


def plot_seeds(runs: seeds.SeedRuns, path: Path) -> None:
    """Left: each seed's accuracies (baseline, Keras pruned, deployed int8, control) with their
    means. Right: each seed's paired differences with their mean and one standard deviation,
    against the goal's line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (axis, right) = plt.subplots(1, 2, figsize=(12, 5))
    positions = range(len(runs.seeds))
    styles = {seeds.BASELINE: ("baseline (Keras)", "o"), seeds.PRUNED: ("pruned (Keras)", "s"),
              seeds.DEPLOYED: ("deployed int8 (LiteRT)", "D"),
              seeds.CONTROL: ("control: pruned shape from scratch", "^")}
    for key, (label, marker) in styles.items():
        spread = runs.accuracies[key]
        line, = axis.plot(positions, [value * 100 for value in spread.runs], marker=marker,
                          linestyle="none", label=f"{label}, mean {spread.mean * 100:.2f} %")
        axis.axhline(spread.mean * 100, color=line.get_color(), linestyle="--", linewidth=0.8)
    axis.set_xticks(list(positions), [str(seed) for seed in runs.seeds])
    axis.set_xlabel("seed")
    axis.set_ylabel("accuracy on the eval split (%)")
    axis.set_title(f"Accuracy per seed ({len(runs.seeds)} seeds; dashed: means)")
    # Legends under the axes: inside, they hid points.
    axis.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2)
    labels = {seeds.DROP_PP: "baseline - deployed (drop)",
              seeds.OVER_CONTROL_PP: "deployed - control"}
    width = 0.35
    for offset, (key, label) in zip((-width / 2, width / 2), labels.items(), strict=True):
        spread = runs.differences[key]
        bars = right.bar([p + offset for p in positions], spread.runs, width,
                         label=f"{label}: {spread.mean:+.2f} ± {spread.std:.2f} pp")
        color = bars.patches[0].get_facecolor()
        right.axhspan(spread.mean - spread.std, spread.mean + spread.std, color=color,
                      alpha=0.15)
        right.axhline(GOAL_OF[key].value, color=color, linestyle=":", linewidth=1)
    right.axhline(0, color="gray", linewidth=0.8)
    right.set_xticks(list(positions), [str(seed) for seed in runs.seeds])
    right.set_xlabel("seed")
    right.set_ylabel("percentage points")
    right.set_title("Paired differences (band: mean ± 1 std; dotted: goal)")
    right.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.14))
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def format_table(results: dict) -> str:
    lines = [f"{'figure':<34} {'value':>14}  goal"]
    for key, value in results.items():
        if key == SEEDS:
            continue  # seeds.format_table and goals_on_means show them
        if isinstance(value, dict):
            for node, seconds in value.items():
                lines.append(f"  {key[:-len('_per_component')] + ' ' + node:<32} {seconds:>14}")
            continue
        goal = GOAL_OF.get(key)
        shown = f"{value:.4f}" if isinstance(value, float) else str(value)
        verdict = ""
        if goal and value is not None:
            verdict = (f"{goal.comparison} {goal.value}: "
                       f"{'met' if goal.met(value) else 'NOT met'}")
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
            "PRUNE_INITIAL_SPARSITY": str(min(0.3, target)),
        }
        print(f"sweep: target sparsity {target} (every pruned layer)", flush=True)
        seconds = run_pipeline(point_env, BENCH_DIR / f"sweep_{target}.log")
        config = configs.load_config([], environ=point_env)
        summary = result_figures(exporter_figures(config.metadata_store,
                                                  config.pipeline_name))
        rows.append({"target_sparsity": target, "wall_seconds": round(seconds, 1), **summary})
        print(f"  sparsity {summary[report.FIGURE.pruned_sparsity]:.4f}  "
              f"pruned {summary[report.FIGURE.pruned_accuracy]:.4f}"
              f"  int8 {summary[report.FIGURE.int8_tflite_accuracy]:.4f}  "
              f"{summary[report.FIGURE.gzip_bytes_pruned_int8_tflite]:,} gzip bytes  "
              f"blessed {summary.get(report.FIGURE.blessed)}", flush=True)
    return rows


def plot_sweep(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (axis, right) = plt.subplots(1, 2, figsize=(12, 4.2))
    sizes = [r[report.FIGURE.gzip_bytes_pruned_int8_tflite] / 1024 for r in rows]
    for key, label, marker in ((report.FIGURE.int8_tflite_accuracy, "int8 TFLite", "o"),
                               (report.FIGURE.pruned_accuracy, "Keras (pruned)", "s")):
        axis.plot(sizes, [r[key] * 100 for r in rows], marker=marker, label=label)
    for row, size in zip(rows, sizes, strict=True):
        note = "" if row[report.FIGURE.blessed] else " (not blessed)"
        axis.annotate(f"{row[report.FIGURE.pruned_sparsity]:.3f}{note}",
                      (size, row[report.FIGURE.int8_tflite_accuracy] * 100),
                      textcoords="offset points",
                      xytext=(4, -12), fontsize=7)
    axis.axhline(rows[0][report.FIGURE.baseline_accuracy] * 100, color="gray", linestyle="--",
                 label="baseline (Keras)")
    axis.set_xscale("log")
    axis.set_xlabel("pruned full-int8 TFLite, gzip KiB (log)")
    axis.set_ylabel("accuracy on the eval split (%)")
    axis.set_title("Accuracy vs compressed size, one point per target sparsity")
    axis.legend(fontsize=8)
    # What the same points cost on a device: batch-1 latency and raw bytes of the int8 file.
    latencies = [r[report.FIGURE.latency_ms_pruned_int8] * 1000 for r in rows]
    right.plot(latencies, [r[report.FIGURE.int8_tflite_accuracy] * 100 for r in rows], marker="o",
               label="pruned int8 TFLite")
    for row, latency in zip(rows, latencies, strict=True):
        right.annotate(f"{row[report.FIGURE.raw_bytes_pruned_int8_tflite] / 1024:.0f} KiB raw",
                       (latency, row[report.FIGURE.int8_tflite_accuracy] * 100),
                       textcoords="offset points", xytext=(4, -12), fontsize=7)
    right.axvline(rows[0][report.FIGURE.latency_ms_baseline_int8] * 1000, color="gray",
                  linestyle="--", label="baseline int8 latency")
    right.set_xlabel("pruned full-int8 TFLite, batch-1 latency (µs, one thread)")
    right.set_ylabel("accuracy on the eval split (%)")
    right.set_title("Accuracy vs latency (labels: raw file size)")
    right.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def sweep_table(rows: list[dict]) -> str:
    lines = ["| target | sparsity | Keras acc | int8 acc | int8 gzip bytes | ratio "
             "| int8 raw bytes | int8 latency ms | speed-up vs baseline int8 | blessed |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(
            f"| {r['target_sparsity']} | {r[report.FIGURE.pruned_sparsity]:.4f} "
            f"| {r[report.FIGURE.pruned_accuracy]:.4f} "
            f"| {r[report.FIGURE.int8_tflite_accuracy]:.4f} "
            f"| {r[report.FIGURE.gzip_bytes_pruned_int8_tflite]:,} "
            f"| {r[report.FIGURE.compression_ratio]:.1f}x "
            f"| {r[report.FIGURE.raw_bytes_pruned_int8_tflite]:,} "
            f"| {r[report.FIGURE.latency_ms_pruned_int8]:.4f} "
            f"| {r[report.FIGURE.pruning_speedup_int8]:.2f}x "
            f"| {'yes' if r[report.FIGURE.blessed] else 'no'} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    default = " ".join(map(str, DEFAULT_SWEEP))
    parser.add_argument("--sweep", nargs="*", type=float, metavar="SPARSITY",
                        help=f"sweep target sparsities (default {default})")
    parser.add_argument("--seeds", type=int, metavar="N", default=1,
                        help=f"train the recipe with N seeds (N >= {seeds.MIN_SEEDS}) from SEED "
                             "on and judge the accuracy goals on their means (default: one run)")
    parser.add_argument("--model", nargs="+", metavar="MODEL",
                        help="structured pruning of each model (a shipped name: "
                             f"{', '.join(modules.SHIPPED)}, or a model module) against TFMOT's "
                             "weight pruning alone -> build/bench/models/")
    args = parser.parse_args(argv)
    if args.model and (args.seeds != 1 or args.sweep is not None):
        entrypoint.fail("bench", "--model is a benchmark of its own: give it without --seeds "
                                 "and --sweep")
    for name in args.model or ():
        try:
            modules.read_source(name)
        except modules.ModelModuleError as error:
            entrypoint.fail("bench", f"--model {name}: {error}")
    if args.seeds != 1 and args.seeds < seeds.MIN_SEEDS:
        entrypoint.fail("bench", f"--seeds must be 1 or at least {seeds.MIN_SEEDS}, got "
                                 f"{args.seeds}: fewer runs give no usable spread")
    if args.seeds != 1 and args.sweep is not None:
        entrypoint.fail("bench", "--seeds and --sweep are separate benchmarks: give one")
    for target in args.sweep or ():
        if not 0 < target < 1:
            entrypoint.fail("bench", f"--sweep sparsities must be in (0, 1), got {target}")
    config = entrypoint.load_config_or_exit("bench", [], "make bench")
    if config.tfds_manual_dir is None:
        entrypoint.fail("bench", f"the benchmark needs the real {config.dataset_name} files: set "
                          f"TFDS_MANUAL_DIR or put them in ../shared/data/{config.dataset_name}")
    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    if args.model:
        from pipelines import model_bench

        model_bench.main(env, args.model)
        return
    if args.sweep is not None:
        rows = sweep(env, args.sweep or list(DEFAULT_SWEEP))
        (BENCH_DIR / "sweep.json").write_text(json.dumps(rows, indent=2))
        (BENCH_DIR / "sweep.md").write_text(sweep_table(rows))
        plot_sweep(rows, BENCH_DIR / "sweep.png")
        print(sweep_table(rows))
        print(f"Wrote {BENCH_DIR / 'sweep.json'}, sweep.md and sweep.png")
        return
    results = bench(env)
    runs = run_seeds(env, results, args.seeds) if args.seeds > 1 else None
    if runs:
        results[SEEDS] = runs.as_dict()
    (BENCH_DIR / "results.json").write_text(json.dumps(results, indent=2))
    print(format_table(results))
    if runs:
        plot_seeds(runs, BENCH_DIR / "seeds.png")
        print(seeds.format_table(runs))
        print(goals_on_means(runs))
        print(f"Wrote {BENCH_DIR / 'seeds.png'}")
    print(f"Wrote {BENCH_DIR / 'results.json'}")


if __name__ == "__main__":
    main()
