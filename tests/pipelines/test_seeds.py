"""Figures over several seeds (`pipelines/seeds.py`) and `make bench --seeds`'s own parts: the
seeds it trains, the goals it judges on the means, its plot and its refusals."""

import json

import pytest

from pipelines import bench, seeds


def _run(baseline, pruned, deployed, control) -> dict:
    return {seeds.BASELINE: baseline, seeds.PRUNED: pruned, seeds.DEPLOYED: deployed,
            seeds.CONTROL: control, "gzip_bytes_pruned_int8_tflite": 9_000}


# Three seeds where the deployed file tracks its own baseline closely (a paired difference with
# little spread) while the baselines themselves spread by 0.3 points.
RUNS = [_run(0.9940, 0.9935, 0.9930, 0.9925),
        _run(0.9970, 0.9962, 0.9960, 0.9900),
        _run(0.9955, 0.9951, 0.9946, 0.9960)]


def test_spread_is_the_mean_and_sample_standard_deviation_of_its_runs():
    spread = seeds.Spread((1.0, 2.0, 3.0))
    assert spread.mean == 2.0
    assert spread.std == 1.0  # n - 1: (1 + 0 + 1) / 2
    assert spread.as_dict(3) == {"mean": 2.0, "std": 1.0, "runs": [1.0, 2.0, 3.0]}


@pytest.mark.parametrize("runs, message", [
    ((0.99,), "at least 2 runs, got 1"),
    ((0.99, float("nan")), "finite numbers, got [nan]"),
])
def test_spread_refuses_what_has_no_spread(runs, message):
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        seeds.Spread(runs)


def test_a_mean_inside_its_own_spread_is_not_distinguishable():
    assert seeds.Spread((0.1, 0.2, 0.3)).distinguishable  # 0.2 ± 0.1
    assert not seeds.Spread((-0.2, 0.1, 0.3)).distinguishable  # 0.07 ± 0.25


def test_paired_differences_are_taken_per_seed_in_points():
    runs = seeds.SeedRuns.from_runs([0, 1, 2], RUNS)
    drop = runs.differences[seeds.DROP_PP]
    assert drop.runs == pytest.approx((0.10, 0.10, 0.09))
    # Paired, the drop is certain although the baselines alone spread three times as much.
    assert drop.std < 0.01 < runs.accuracies[seeds.BASELINE].std * 100
    assert drop.distinguishable
    over = runs.differences[seeds.OVER_CONTROL_PP]
    assert over.runs == pytest.approx((0.05, 0.60, -0.14))
    assert not over.distinguishable  # +0.17 ± 0.38


def test_results_json_keeps_each_accuracy_and_difference_with_mean_std_and_runs():
    written = json.loads(json.dumps(seeds.SeedRuns.from_runs([4, 5, 6], RUNS).as_dict()))
    assert written["seeds"] == [4, 5, 6]
    assert set(written) == {"seeds", *seeds.ACCURACIES, *seeds.DIFFERENCES}
    assert written[seeds.CONTROL] == {"mean": 0.992833, "std": 0.003014,
                                      "runs": [0.9925, 0.99, 0.996]}
    assert written[seeds.DROP_PP]["runs"] == [0.1, 0.1, 0.09]


@pytest.mark.parametrize("seed_list, runs, message", [
    ([0, 1], RUNS, "2 seeds but 3 runs"),
    ([0, 0, 1], RUNS, r"its own seed, got \[0, 0, 1\]"),
    ([0, 1, 2], [*RUNS[:2], {**RUNS[2], seeds.CONTROL: None}],
     "The run with seed 2 has no control_accuracy"),
])
def test_runs_that_cannot_be_paired_are_refused_naming_the_cause(seed_list, runs, message):
    with pytest.raises(ValueError, match=message):
        seeds.SeedRuns.from_runs(seed_list, runs)


def test_the_table_says_which_differences_the_seeds_cannot_tell_from_zero():
    table = seeds.format_table(seeds.SeedRuns.from_runs([0, 1, 2], RUNS)).splitlines()
    assert table[0] == "seeds 0, 1, 2"
    [drop] = [line for line in table if seeds.DROP_PP in line]
    assert drop.endswith("0.10 ± 0.01 pp (0.10, 0.10, 0.09)")
    [over] = [line for line in table if seeds.OVER_CONTROL_PP in line]
    assert "0.17 ± 0.38 pp (0.05, 0.60, -0.14)  not distinguishable" in over
    [baseline] = [line for line in table if seeds.BASELINE in line]
    assert baseline.endswith("99.55 ± 0.15 % (99.40, 99.70, 99.55)")


def test_the_accuracy_goals_are_judged_on_the_means():
    lines = bench.goals_on_means(seeds.SeedRuns.from_runs([0, 1, 2], RUNS)).splitlines()
    assert lines[0] == "accuracy goals on the means of 3 seeds:"
    judged = {line.split()[0]: line for line in lines[1:]}
    assert set(judged) == {"baseline_accuracy", "int8_accuracy_drop_pp",
                           "int8_accuracy_over_control_pp"}
    assert judged["baseline_accuracy"].endswith("mean 99.55 ± 0.15 >= 99.4: met")
    assert judged["int8_accuracy_drop_pp"].endswith("mean 0.10 ± 0.01 <= 0.3: met")
    assert judged["int8_accuracy_over_control_pp"].endswith(
        "mean 0.17 ± 0.38 >= 0: met; not distinguishable from the goal "
        "(within one standard deviation)")


@pytest.mark.parametrize("baselines, verdict", [
    ((0.9930, 0.9932, 0.9934), "mean 99.32 ± 0.02 >= 99.4: NOT met"),
    ((0.9935, 0.9950, 0.9945), "mean 99.43 ± 0.08 >= 99.4: met; not distinguishable from the "
                               "goal (within one standard deviation)"),
])
def test_a_baseline_goal_is_judged_on_the_mean_and_its_spread(baselines, verdict):
    runs = [_run(baseline, 0.99, 0.99, 0.99) for baseline in baselines]
    [line] = [line for line in bench.goals_on_means(seeds.SeedRuns.from_runs(
        [0, 1, 2], runs)).splitlines() if "baseline_accuracy" in line]
    assert line.endswith(verdict)


def test_the_seeds_follow_the_configured_one_and_each_run_gets_its_own(monkeypatch):
    trained = []

    def fake_seed_run(env, seed, label):
        trained.append((env["SEED"], seed, label))
        return RUNS[len(trained)]

    monkeypatch.setattr(bench, "seed_run", fake_seed_run)
    runs = bench.run_seeds({"SEED": "7", "TFDS_MANUAL_DIR": "/data"}, RUNS[0], 3)
    assert runs.seeds == (7, 8, 9)
    assert [(seed, label) for _, seed, label in trained] == [(8, "[seed 2/3]"),
                                                             (9, "[seed 3/3]")]
    assert runs.accuracies[seeds.CONTROL].runs == (0.9925, 0.99, 0.996)


def test_the_plot_is_written_as_a_png(tmp_path):
    path = tmp_path / "seeds.png"
    bench.plot_seeds(seeds.SeedRuns.from_runs([0, 1, 2], RUNS), path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert path.stat().st_size > 20_000  # two panels of points, bars and legends


def test_the_table_leaves_the_seeds_to_their_own_table():
    table = bench.format_table({"baseline_accuracy": 0.995,
                                bench.SEEDS: seeds.SeedRuns.from_runs([0, 1, 2], RUNS).as_dict()})
    assert "seeds" not in table and "baseline_accuracy" in table


@pytest.mark.parametrize("argv, message", [
    (["--seeds", "2"], "--seeds must be 1 or at least 3, got 2: fewer runs give no usable spread"),
    (["--seeds", "0"], "--seeds must be 1 or at least 3, got 0"),
    (["--seeds", "3", "--sweep"], "--seeds and --sweep are separate benchmarks: give one"),
])
def test_bad_seed_counts_stop_with_one_line(argv, message, capsys):
    with pytest.raises(SystemExit) as raised:
        bench.main(argv)
    assert raised.value.code == 2
    assert capsys.readouterr().err.startswith(f"bench: error: {message}")
