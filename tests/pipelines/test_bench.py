"""`make bench`'s pure parts: the figures it keeps, the goal verdicts it prints, bad arguments."""

import pytest

from pipelines import bench

# What the CompressExporter records on its `compressed` artifact (MLMD: blessed is an int).
RECORDED = {
    "baseline_accuracy": 0.9949, "pruned_accuracy": 0.9937, "pruned_sparsity": 0.9575,
    "int8_tflite_accuracy": 0.9915, "gzip_bytes_baseline_float_tflite": 1_739_227,
    "gzip_bytes_pruned_int8_tflite": 38_318, "compression_ratio": 45.39,
    "latency_ms_float": 0.0321, "latency_ms_int8": 0.0097, "int8_speedup": 3.31, "blessed": 1,
    "pruned_accuracy_drop_pp": 0.12, "int8_accuracy_drop_pp": 0.34,
    "int8_tflite_sparsity": 0.9575,  # recorded, not in results.json
}


def test_result_figures_keep_the_results_json_keys():
    results = bench.result_figures(RECORDED)
    assert list(results) == [
        "baseline_accuracy", "pruned_accuracy", "pruned_sparsity", "int8_tflite_accuracy",
        "gzip_bytes_baseline_float_tflite", "gzip_bytes_pruned_int8_tflite", "compression_ratio",
        "latency_ms_float", "latency_ms_int8", "int8_speedup", "blessed",
        "pruned_accuracy_drop_pp", "int8_accuracy_drop_pp"]
    assert results["blessed"] is True
    assert results["compression_ratio"] == 45.39 and results["int8_accuracy_drop_pp"] == 0.34


@pytest.mark.parametrize(
    "key, value, verdict",
    [
        ("baseline_accuracy", 0.9940, "met"),
        ("baseline_accuracy", 0.9939, "NOT met"),
        ("compression_ratio", 39.9, "NOT met"),
        ("pruned_accuracy_drop_pp", 0.2, "met"),
        ("int8_accuracy_drop_pp", 0.34, "NOT met"),
        ("wall_seconds_cached_rerun", 30.5, "NOT met"),
        ("wall_seconds_total", 143.4, "met"),
    ],
)
def test_table_judges_each_goal(key, value, verdict):
    line = next(row for row in bench.format_table({key: value}).splitlines()
                if row.startswith(key))
    assert line.endswith(f"{bench.GOALS[key][0]} {bench.GOALS[key][1]}: {verdict}")


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
