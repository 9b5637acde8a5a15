"""The library's parameter objects: one validated value object per step, JSON in and out.

`ModelParams` (the CNN's shape), `TrainingParams` (how long and how fast), `PruningParams` (every
option of the Keras pruning API), `ClusteringParams` (sparsity-preserving weight clustering),
`CompressionParams` (what the exporter measures, and optional PQAT) and `GateParams` (when a
pruned model is good enough to push).

Each scalar default here is the pipeline's default too: `pipelines/configs.py` takes its defaults
from these objects, except where structured pruning changes them (`NARROW_PRUNE_EPOCHS`,
`NARROW_CLUSTERS`: the narrowed model's recipe). The per-layer tables belong to the CNN, not to
these generic objects, so they live beside its layers in `pruning/architecture.py`
(`NARROW_FILTER_SPARSITY`, `NARROW_LAYER_SPARSITY`, `DEFAULT_LAYER_SPARSITY`), where the pipeline
takes them from; a `PruningParams()` or `FilterParams()` built without them prunes by
`final_sparsity` alone, or not at all. This module imports no TensorFlow, so a settings layer
builds and validates these in milliseconds, before TensorFlow's import (20 s or more) is paid. A
bad value raises `InvalidParam`, a `ValueError` that names the parameter, so a caller can say
which of its own options set it.
"""

from __future__ import annotations

import dataclasses
import json
import math
from typing import Any

KERAS_APIS = ("functional", "sequential")
LOOPS = ("fit", "custom")
SCHEDULES = ("polynomial_decay", "constant")
BLOCK_POOLING_TYPES = ("AVG", "MAX")
PRUNABLE_LAYER_TYPES = ("Conv2D", "Dense", "ScaledDense")
CENTROID_INITS = ("kmeans_plus_plus", "linear", "density_based")


class InvalidParam(ValueError):
    """`param` of a parameter object has a value it cannot take; `rule` says what is allowed."""

    def __init__(self, param: str, value: Any, rule: str):
        super().__init__(f"{param} {rule}, got {value!r}")
        self.param = param
        self.value = value
        self.rule = rule


def _check(condition: bool, param: str, value: Any, rule: str) -> None:
    if not condition:
        raise InvalidParam(param, value, rule)


class _JsonParams:
    """JSON in and out for a frozen dataclass whose tuple fields JSON turns into lists."""

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str):
        return cls.from_dict(json.loads(text))

    @classmethod
    def from_dict(cls, values: dict):
        """The inverse of `dataclasses.asdict` (nested lists back to tuples); unknown keys fail."""
        fields = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - fields)
        if unknown:
            raise ValueError(f"Unknown {cls.__name__} field(s) {unknown}; known: {sorted(fields)}")
        return cls(**{key: _tuples(value) for key, value in values.items()})


def _tuples(value):
    return tuple(_tuples(item) for item in value) if isinstance(value, list) else value


@dataclasses.dataclass(frozen=True)
class ModelParams(_JsonParams):
    """The CNN's shape (pruning/architecture.py)."""

    keras_api: str = "functional"  # the Keras API that builds it: Functional or Sequential
    width: int = 32  # filters of conv1; conv2 and conv3 have twice as many
    dense_units: int = 256  # units of dense1, the custom ScaledDense layer
    dropout: float = 0.3

    def __post_init__(self) -> None:
        _check(self.keras_api in KERAS_APIS, "keras_api", self.keras_api,
               f"must be one of {', '.join(KERAS_APIS)}")
        _check(self.width >= 1, "width", self.width, "must be >= 1")
        _check(self.dense_units >= 1, "dense_units", self.dense_units, "must be >= 1")
        _check(0 <= self.dropout < 1, "dropout", self.dropout, "must be in [0, 1)")


@dataclasses.dataclass(frozen=True)
class TrainingParams(_JsonParams):
    """How long and how fast to train: the baseline's run, or the pruning run's fine-tuning."""

    epochs: int = 5
    batch_size: int = 256
    learning_rate: float = 4e-3  # the peak of the warm-up + cosine schedule
    warmup_fraction: float = 0.1
    augment: bool = True  # random shifts of up to data.MAX_SHIFT (1) pixel
    seed: int = 0

    def __post_init__(self) -> None:
        _check(self.epochs >= 1, "epochs", self.epochs, "must be >= 1")
        _check(self.batch_size >= 1, "batch_size", self.batch_size, "must be >= 1")
        _check(self.learning_rate > 0, "learning_rate", self.learning_rate, "must be > 0")
        _check(0 <= self.warmup_fraction < 1, "warmup_fraction", self.warmup_fraction,
               "must be in [0, 1)")

    def steps_per_epoch(self, num_examples: int) -> int:
        return math.ceil(num_examples / self.batch_size)


# The pruning run fine-tunes a trained model: fewer epochs, a lower peak rate.
PRUNE_TRAINING = TrainingParams(epochs=4, learning_rate=2e-3)
# Weight-pruning epochs after structured pruning: the narrowed model keeps learning in them, and
# its epoch takes a fraction of the full model's (docs/design.md, "Why `PRUNE_EPOCHS` is 30").
NARROW_PRUNE_EPOCHS = 30


@dataclasses.dataclass(frozen=True)
class PruningParams(_JsonParams):
    """What to prune, how much, and when.

    Scope: with no `layer_names` and no `layer_types` the whole model is pruned
    (`prune_low_magnitude(model)`); otherwise only the layers matching either list are
    (`clone_model` with a clone function), and the rest stay dense.
    """

    schedule: str = "polynomial_decay"
    initial_sparsity: float = 0.3  # polynomial_decay only
    final_sparsity: float = 0.9  # every pruned layer not in layer_sparsity
    begin_step: int = 0
    # polynomial_decay: when final_sparsity is reached; None = one epoch before training ends
    # (see `for_run`), so the last epoch fine-tunes at the final sparsity.
    end_step: int | None = None
    frequency: int = 50  # steps between mask updates
    block_size: tuple[int, int] = (1, 1)  # prune (rows, cols) blocks of 2-D kernels together
    block_pooling_type: str = "AVG"
    sparsity_m_by_n: tuple[int, int] | None = None  # e.g. (2, 4): 2 zeros in every 4 weights
    layer_names: tuple[str, ...] = ()
    layer_types: tuple[str, ...] = ()
    # Per-layer final sparsity, e.g. (("dense1", 0.98), ("conv1", 0.5)): big layers can take more.
    layer_sparsity: tuple[tuple[str, float], ...] = ()
    # How the fine-tuning drives TFMOT's pruning step: `fit` (UpdatePruningStep and
    # PruningSummaries callbacks) or `custom` (a GradientTape loop calling it by hand).
    loop: str = "fit"

    def __post_init__(self) -> None:
        _check(self.schedule in SCHEDULES, "schedule", self.schedule,
               f"must be one of {', '.join(SCHEDULES)}")
        for name in ("initial_sparsity", "final_sparsity"):
            value = getattr(self, name)
            _check(0 <= value < 1, name, value, "must be in [0, 1)")
        _check(self.begin_step >= 0, "begin_step", self.begin_step, "must be >= 0")
        _check(self.frequency >= 1, "frequency", self.frequency, "must be >= 1")
        polynomial = self.schedule == "polynomial_decay"
        if polynomial and self.end_step is not None:
            _check(self.end_step > self.begin_step, "end_step", self.end_step,
                   f"must be > begin_step ({self.begin_step})")
        if polynomial:
            _check(self.initial_sparsity <= self.final_sparsity, "initial_sparsity",
                   self.initial_sparsity, f"must not exceed final_sparsity ({self.final_sparsity})")
        _check(len(self.block_size) == 2 and min(self.block_size) >= 1, "block_size",
               self.block_size, "must be two integers >= 1")
        _check(self.block_pooling_type in BLOCK_POOLING_TYPES, "block_pooling_type",
               self.block_pooling_type, f"must be one of {', '.join(BLOCK_POOLING_TYPES)}")
        if self.sparsity_m_by_n is not None:
            m, n = self.sparsity_m_by_n
            _check(1 <= m < n, "sparsity_m_by_n", f"{m}:{n}", "needs 1 <= m < n")
            _check(tuple(self.block_size) == (1, 1), "sparsity_m_by_n", f"{m}:{n}",
                   f"excludes block_size {self.block_size}")
        for name, value in self.layer_sparsity:
            _check(0 <= value < 1, "layer_sparsity", f"{name}:{value}",
                   "needs each sparsity in [0, 1)")
            _check(not self.sparsity_m_by_n, "layer_sparsity", f"{name}:{value}",
                   "does not apply to sparsity_m_by_n (always m/n)")
        unknown = sorted(set(self.layer_types) - set(PRUNABLE_LAYER_TYPES))
        _check(not unknown, "layer_types", ",".join(unknown),
               f"must name prunable layer types: {', '.join(PRUNABLE_LAYER_TYPES)}")
        _check(self.loop in LOOPS, "loop", self.loop, f"must be one of {', '.join(LOOPS)}")

    def for_run(self, steps_per_epoch: int, epochs: int, start_step: int = 0) -> PruningParams:
        """Concrete steps for a run of `epochs` epochs starting at optimizer step `start_step`.

        Fills in a default `end_step`, checks the schedule fits inside the run (a target reached
        after training ends would silently never be reached), and shifts begin/end by
        `start_step`: TFMOT counts pruning steps from the optimizer's iterations, which a run
        continued from another run's checkpoint does not start at 0.
        """
        total = steps_per_epoch * epochs
        end = self.end_step
        if end is None:
            end = total - steps_per_epoch if epochs > 1 else max(total // 2, 1)
        run = f"the end of training ({total} steps = {epochs} epochs x {steps_per_epoch})"
        _check(self.begin_step < total, "begin_step", self.begin_step, f"must be before {run}")
        if self.schedule == "polynomial_decay":
            _check(end <= total, "end_step", end,
                   f"must not be after {run}: final_sparsity would never be reached")
            _check(end > self.begin_step, "end_step", end,
                   f"must be > begin_step ({self.begin_step})")
        return dataclasses.replace(
            self, begin_step=self.begin_step + start_step, end_step=end + start_step
        )

    @property
    def whole_model(self) -> bool:
        return not self.layer_names and not self.layer_types

    def final_sparsity_of(self, layer: str) -> float:
        return dict(self.layer_sparsity).get(layer, self.final_sparsity)

    def pruning_schedule(self, layer: str | None = None):
        """The TFMOT schedule, with `layer`'s own final sparsity when `layer_sparsity` names it."""
        import tensorflow_model_optimization as tfmot

        final = self.final_sparsity_of(layer) if layer else self.final_sparsity
        if self.schedule == "constant":
            return tfmot.sparsity.keras.ConstantSparsity(
                final, self.begin_step, frequency=self.frequency
            )
        if self.end_step is None:
            raise ValueError("end_step is not set: call for_run() to derive it from the run")
        return tfmot.sparsity.keras.PolynomialDecay(
            initial_sparsity=min(self.initial_sparsity, final),
            final_sparsity=final,
            begin_step=self.begin_step,
            end_step=self.end_step,
            frequency=self.frequency,
        )

    def prune_kwargs(self, layer: str | None = None) -> dict:
        """Keyword arguments of `tfmot.sparsity.keras.prune_low_magnitude` (for one layer)."""
        return {
            "pruning_schedule": self.pruning_schedule(layer),
            "block_size": tuple(self.block_size),
            "block_pooling_type": self.block_pooling_type,
            "sparsity_m_by_n": tuple(self.sparsity_m_by_n) if self.sparsity_m_by_n else None,
        }


def kept_count(width: int, fraction: float) -> int:
    """Channels a group of `width` keeps when structured pruning removes `fraction` of them
    (rounded): at least one."""
    return max(width - round(width * fraction), 1)


@dataclasses.dataclass(frozen=True)
class FilterParams(_JsonParams):
    """Structured pruning (`pruning.structured`): the fraction of channels removed from each
    coupled channel group of the model (a float: every group that can lose channels) or from
    the groups holding the named layers' outputs (("conv2", 0.5), ...), chosen by magnitude on a
    schedule while fine-tuning; then the model is rebuilt without them. `filter_sparsity=()`
    turns it off."""

    filter_sparsity: float | tuple[tuple[str, float], ...] = ()
    epochs: int = 2  # fine-tuning of the full-width model while its channels are masked
    learning_rate: float = 2e-3  # peak of the warm-up + cosine schedule
    frequency: int = 50  # steps between mask updates
    # The removed fraction rises from 0 to the target along a cubic (TFMOT's PolynomialDecay
    # with power 3) and reaches it one epoch before the end: the last epoch fine-tunes.
    # Distillation: every fine-tuning of the narrowed model learns targets that mix the labels
    # with the unpruned model's probabilities, this much of the latter; 0 = the labels alone.
    teacher_weight: float = 0.8

    def __post_init__(self) -> None:
        if isinstance(self.filter_sparsity, int | float):
            _check(0 < self.filter_sparsity < 1, "filter_sparsity", self.filter_sparsity,
                   "needs the removed fraction in (0, 1)")
        else:
            for name, value in self.filter_sparsity:
                _check(0 < value < 1, "filter_sparsity", f"{name}:{value}",
                       "needs each removed fraction in (0, 1)")
            names = [name for name, _ in self.filter_sparsity]
            _check(len(set(names)) == len(names), "filter_sparsity", ",".join(names),
                   "must name each layer once")
        _check(self.epochs >= 1, "epochs", self.epochs, "must be >= 1")
        _check(self.learning_rate > 0, "learning_rate", self.learning_rate, "must be > 0")
        _check(self.frequency >= 1, "frequency", self.frequency, "must be >= 1")
        _check(0 <= self.teacher_weight <= 1, "teacher_weight", self.teacher_weight,
               "must be in [0, 1]")

    @property
    def enabled(self) -> bool:
        return bool(self.filter_sparsity)

    @property
    def sparsity(self) -> float | dict[str, float]:
        """`filter_sparsity` as `pruning.structured.narrow` takes it."""
        if isinstance(self.filter_sparsity, int | float):
            return float(self.filter_sparsity)
        return dict(self.filter_sparsity)


@dataclasses.dataclass(frozen=True)
class ClusteringParams(_JsonParams):
    """`clusters` 0 turns clustering off; else each selected kernel keeps that many values."""

    clusters: int = 8
    epochs: int = 1  # fine-tuning of the centroids
    learning_rate: float = 2e-4  # constant: the model is already trained
    init: str = "kmeans_plus_plus"

    def __post_init__(self) -> None:
        _check(self.clusters == 0 or self.clusters >= 2, "clusters", self.clusters,
               "must be 0 (off) or >= 2")
        _check(self.epochs >= 0, "epochs", self.epochs, "must be >= 0")
        _check(self.learning_rate > 0, "learning_rate", self.learning_rate, "must be > 0")
        _check(self.init in CENTROID_INITS, "init", self.init,
               f"must be one of {', '.join(CENTROID_INITS)}")

    @property
    def enabled(self) -> bool:
        return self.clusters > 0


# The recipe of a model without per-layer tables of its own (any model but the project's CNN,
# whose tables live in `pruning/architecture.py`): every channel group loses this fraction, then
# every prunable layer's weights are pruned to this sparsity (docs/design.md, "Any model's
# defaults").
ANY_MODEL_FILTER_SPARSITY = 0.5
ANY_MODEL_FINAL_SPARSITY = 0.5

# Clustering after structured pruning: a narrowed kernel has fewer weights to share each value,
# and 8 values cost it about 0.1 pp of accuracy more than 16 (docs/design.md, "Clustering").
NARROW_CLUSTERS = 16


@dataclasses.dataclass(frozen=True)
class CompressionParams(_JsonParams):
    """What the exporter measures, and whether it trains a PQAT file too."""

    representative_examples: int = 500  # train examples that calibrate full-integer files
    latency_runs: int = 500  # invocations per timed file (median); 0 skips timing
    # Pruning-preserving quantization-aware training of the pruned model: 0 epochs skips it.
    pqat_epochs: int = 0
    pqat_learning_rate: float = 1e-4  # constant (Adam): the model is already trained

    def __post_init__(self) -> None:
        _check(self.representative_examples >= 1, "representative_examples",
               self.representative_examples, "must be >= 1")
        _check(self.latency_runs >= 0, "latency_runs", self.latency_runs, "must be >= 0")
        _check(self.pqat_epochs >= 0, "pqat_epochs", self.pqat_epochs, "must be >= 0")
        _check(self.pqat_learning_rate > 0, "pqat_learning_rate", self.pqat_learning_rate,
               "must be > 0")


@dataclasses.dataclass(frozen=True)
class GateParams(_JsonParams):
    """A pruned model is good enough when it reaches `min_accuracy` and lies at most
    `max_accuracy_drop` below the baseline's accuracy (both fractions: 0.005 = 0.5 points)."""

    min_accuracy: float = 0.98
    max_accuracy_drop: float = 0.005

    def __post_init__(self) -> None:
        for name in ("min_accuracy", "max_accuracy_drop"):
            value = getattr(self, name)
            _check(0 <= value <= 1, name, value, "must be in [0, 1]")
