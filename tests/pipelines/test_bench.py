"""`make bench`'s pure parts: the figures it keeps, the goal verdicts it prints, bad arguments."""

import pytest

from components import progress as epoch_lines
from pipelines import bench, progress
from pruning.compression import report

# What the CompressExporter records on its `compressed` artifact (MLMD: blessed is an int).
RECORDED = {
    "baseline_accuracy": 0.9949, "pruned_accuracy": 0.9937, "pruned_sparsity": 0.9575,
    "int8_tflite_accuracy": 0.9915, "gzip_bytes_baseline_float_tflite": 1_739_227,
    "gzip_bytes_pruned_int8_tflite": 38_318, "compression_ratio": 45.39,
    "quantization_speedup": 3.31, "blessed": 1,
    "pruned_accuracy_drop_pp": 0.12, "int8_accuracy_drop_pp": 0.34,
    "pruning_speedup_int8": 3.2, "pruning_speedup_float": 3.9, "raw_size_ratio_int8": 11.05,
    "raw_bytes_baseline_int8_tflite": 484_448, "raw_bytes_pruned_int8_tflite": 43_848,
    "latency_ms_baseline_int8": 0.0290, "latency_ms_pruned_int8": 0.0091,
    "latency_ms_baseline_float": 0.0830, "latency_ms_pruned_float": 0.0213,
    "memory_bytes_baseline_int8": 600_000, "memory_bytes_pruned_int8": 90_000,
    "int8_tflite_sparsity": 0.9575,  # recorded, not in results.json
}


def test_result_figures_keep_the_figures_declared_for_the_bench():
    results = bench.result_figures(RECORDED)
    assert list(results) == list(bench.RESULT_KEYS)
    # Every figure results.json keeps is one the exporter declares, and in declaration order.
    assert list(results) == [name for name in report.FIGURES if name in bench.RESULT_KEYS]
    assert "int8_tflite_sparsity" in RECORDED and "int8_tflite_sparsity" not in results
    assert results["blessed"] is True  # recorded as an int in ML Metadata
    assert results["compression_ratio"] == 45.39 and results["int8_accuracy_drop_pp"] == 0.34


def test_every_goal_judges_a_figure_the_bench_writes():
    written = set(bench.RESULT_KEYS) | set(bench.BENCH_FIGURES)
    assert {goal.figure for goal in bench.GOALS} <= written
    assert len(bench.GOAL_OF) == len(bench.GOALS)  # one goal per figure


def test_each_results_json_key_is_declared_once():
    """The exporter's figures (pruning/compression/report.py) and the bench's own share no name:
    a key of results.json means one thing, declared in one place."""
    assert len(set(bench.BENCH_FIGURES)) == len(bench.BENCH_FIGURES)
    assert not set(bench.BENCH_FIGURES) & set(report.FIGURES)
    assert set(bench.RESULT_KEYS) <= set(report.FIGURES)


def test_the_checked_in_goals_are_the_generated_ones():
    from pipelines import configs, reference

    checked_in = (configs.PROJECT_ROOT / "docs" / "goals.md").read_text()
    assert checked_in == reference.goals_markdown(), "stale: run `make docs`"


@pytest.mark.parametrize(
    "key, value, verdict",
    [
        ("baseline_accuracy", 0.9940, "met"),
        ("baseline_accuracy", 0.9939, "NOT met"),
        ("compression_ratio", 144.9, "NOT met"),
        ("compression_ratio", 145.0, "met"),
        ("int8_accuracy_drop_pp", 0.34, "NOT met"),
        ("wall_seconds_cached_rerun", 30.5, "NOT met"),
        ("wall_seconds_total", 143.4, "met"),
        ("pruning_speedup_int8", 3.0, "met"),
        ("pruning_speedup_int8", 2.99, "NOT met"),
        ("pruning_speedup_float", 1.0, "NOT met"),
        ("raw_size_ratio_int8", 10.0, "met"),
        ("gzip_bytes_pruned_int8_tflite", 12_000, "met"),
        ("gzip_bytes_pruned_int8_tflite", 12_001, "NOT met"),
        ("int8_accuracy_over_control_pp", 0.0, "met"),
        ("int8_accuracy_over_control_pp", -0.01, "NOT met"),
    ],
)
def test_table_judges_each_goal(key, value, verdict):
    line = next(row for row in bench.format_table({key: value}).splitlines()
                if row.startswith(key))
    goal = bench.GOAL_OF[key]
    assert line.endswith(f"{goal.comparison} {goal.value}: {verdict}")


def test_table_lists_per_component_seconds_without_goals():
    table = bench.format_table({"wall_seconds_per_component": {"Trainer": 45.9}})
    assert "wall_seconds Trainer" in table and "45.9" in table
    assert "met" not in table


@pytest.mark.parametrize("bad", ["0", "1", "1.5", "-0.2"])
def test_sweep_refuses_sparsities_outside_0_1(bad, capsys):
    with pytest.raises(SystemExit) as raised:
        bench.main(["--sweep", "0.9", bad])
    assert raised.value.code == 2
    assert capsys.readouterr().err == (
        f"bench: error: --sweep sparsities must be in (0, 1), got {float(bad)}\n")


def test_sweep_table_shows_size_latency_and_speed_up_of_each_point():
    row = {"target_sparsity": 0.9, **bench.result_figures(RECORDED)}
    table = bench.sweep_table([row])
    assert table.splitlines()[2] == (
        "| 0.9 | 0.9575 | 0.9937 | 0.9915 | 38,318 | 45.4x | 43,848 | 0.0091 | 3.20x | yes |")


def test_the_bench_shows_component_and_epoch_lines_without_timestamps_or_paths():
    component = progress.finished(5, 9, "Trainer", 84.2, cached=False)
    assert bench.progress_line(component + "\n") == "pipeline: [5/9] Trainer done in 84.2 s"
    weights = (f"2026-12-03 13:16:05,718 INFO {epoch_lines.epoch_done('weights', 1, 30)}, "
               "loss 0.1706, 5.3 s, checkpoint in /root/PruneTrainer/.resume/9fcc\n")
    assert bench.progress_line(weights) == (
        "PruneTrainer: weights epoch 1/30 done, loss 0.1706, 5.3 s")
    trainer = (f"2026-12-03 13:14:06,001 INFO {epoch_lines.trainer_epoch_done(2, 5)}, "
               "loss 0.07, 12.6 s")
    assert bench.progress_line(trainer) == "Trainer: epoch 2/5 done, loss 0.07, 12.6 s"
    for other in ("2026-12-03 13:13:52,414 INFO Component Trainer is running.",
                  "235/235 - 13s - loss: 0.3637 - accuracy: 0.8831", "Epoch 1/5"):
        assert bench.progress_line(other) is None
