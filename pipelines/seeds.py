"""Figures over several seeds: each figure's mean, spread and runs, and the paired differences
that judge the accuracy goals (`make bench BENCH_ARGS="--seeds N"`).

One run cannot tell a pruned model that beats its control from one that does not when the
difference is smaller than what a new seed changes. So the bench trains the same recipe with
N seeds and reports, per figure, the mean, the sample standard deviation and every run; and,
per seed, the differences that the goals are about (deployed - baseline, deployed - control).
A difference whose mean is smaller than its own spread is "not distinguishable" from zero.

Plain Python, no TensorFlow: the bench, its tests and its plot share it.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence

from pruning.compression import report

MIN_SEEDS = 3  # fewer runs give no usable spread

BASELINE = report.FIGURE.baseline_accuracy
PRUNED = report.FIGURE.pruned_accuracy
DEPLOYED = report.FIGURE.int8_tflite_accuracy
CONTROL = "control_accuracy"
# Each seed's accuracies that results.json's `seeds` keeps.
ACCURACIES = (BASELINE, PRUNED, DEPLOYED, CONTROL)
# The paired differences, in percentage points, under the names of the single-run figures they
# average: the baseline's accuracy above the deployed file's (the drop), and the deployed file's
# above the control's.
DROP_PP = report.FIGURE.int8_accuracy_drop_pp
OVER_CONTROL_PP = "int8_accuracy_over_control_pp"
DIFFERENCES = {
    DROP_PP: (BASELINE, DEPLOYED),  # first - second
    OVER_CONTROL_PP: (DEPLOYED, CONTROL),
}


@dataclasses.dataclass(frozen=True)
class Spread:
    """One figure over several seeds."""

    runs: tuple[float, ...]  # one value per seed, in seed order

    def __post_init__(self) -> None:
        if len(self.runs) < 2:
            raise ValueError(f"A spread needs at least 2 runs, got {len(self.runs)}")
        bad = [value for value in self.runs if not math.isfinite(value)]
        if bad:
            raise ValueError(f"Runs must be finite numbers, got {bad}")

    @property
    def mean(self) -> float:
        return sum(self.runs) / len(self.runs)

    @property
    def std(self) -> float:
        """The sample standard deviation (n - 1): what one more seed would likely differ by."""
        mean = self.mean
        return math.sqrt(sum((value - mean) ** 2 for value in self.runs) / (len(self.runs) - 1))

    @property
    def distinguishable(self) -> bool:
        """Whether the mean stands out of the spread: |mean| larger than one standard deviation.
        For a difference, False means the seeds cannot tell it from zero."""
        return abs(self.mean) > self.std

    def as_dict(self, digits: int) -> dict:
        return {"mean": round(self.mean, digits), "std": round(self.std, digits),
                "runs": [round(value, digits) for value in self.runs]}


@dataclasses.dataclass(frozen=True)
class SeedRuns:
    """The accuracies of one recipe trained with several seeds."""

    seeds: tuple[int, ...]
    accuracies: Mapping[str, Spread]  # ACCURACIES -> their spread, as fractions
    differences: Mapping[str, Spread]  # DIFFERENCES -> per-seed differences, in points

    @classmethod
    def from_runs(cls, seeds: Sequence[int], runs: Sequence[Mapping[str, float]]) -> SeedRuns:
        """`runs[i]`: the figures (at least ACCURACIES) of the run with `seeds[i]`."""
        if len(seeds) != len(runs):
            raise ValueError(f"{len(seeds)} seeds but {len(runs)} runs")
        if len(set(seeds)) != len(seeds):
            raise ValueError(f"Each run needs its own seed, got {list(seeds)}")
        for seed, run in zip(seeds, runs, strict=True):
            missing = [key for key in ACCURACIES if run.get(key) is None]
            if missing:
                raise ValueError(f"The run with seed {seed} has no {', '.join(missing)}")
        accuracies = {key: Spread(tuple(float(run[key]) for run in runs)) for key in ACCURACIES}
        differences = {
            name: Spread(tuple((run[first] - run[second]) * 100 for run in runs))
            for name, (first, second) in DIFFERENCES.items()}
        return cls(tuple(seeds), accuracies, differences)

    def figure(self, name: str) -> Spread:
        """An accuracy or a difference by its results.json name."""
        return {**self.accuracies, **self.differences}[name]

    def as_dict(self) -> dict:
        """results.json's `seeds`: the seeds, then each accuracy and difference."""
        return {"seeds": list(self.seeds),
                **{key: spread.as_dict(6) for key, spread in self.accuracies.items()},
                **{key: spread.as_dict(3) for key, spread in self.differences.items()}}


def describe(spread: Spread, unit: str, digits: int) -> str:
    """`mean ± std (runs a, b, c)`, e.g. `99.43 ± 0.05 % (99.40, 99.48, 99.41)`."""
    runs = ", ".join(f"{value:.{digits}f}" for value in spread.runs)
    return f"{spread.mean:.{digits}f} ± {spread.std:.{digits}f}{unit} ({runs})"


def format_table(runs: SeedRuns) -> str:
    """The accuracies in %, the paired differences in points, each with its verdict."""
    lines = [f"seeds {', '.join(map(str, runs.seeds))}"]
    for key, spread in runs.accuracies.items():
        shown = Spread(tuple(value * 100 for value in spread.runs))
        lines.append(f"  {key:<32} {describe(shown, ' %', 2)}")
    for key, spread in runs.differences.items():
        verdict = ("" if spread.distinguishable
                   else "  not distinguishable: the mean is within one standard deviation of 0")
        lines.append(f"  {key:<32} {describe(spread, ' pp', 2)}{verdict}")
    return "\n".join(lines)
