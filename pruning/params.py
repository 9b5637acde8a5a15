"""Pruning parameters: one validated value object for every option of the Keras pruning API."""

from __future__ import annotations

import dataclasses
import json

import tensorflow_model_optimization as tfmot

SCHEDULES = ("polynomial_decay", "constant")
PRUNABLE_LAYER_TYPES = ("Conv2D", "Dense", "ScaledDense")


@dataclasses.dataclass(frozen=True)
class PruningParams:
    """What to prune, how much, and when.

    Scope: with no `layer_names` and no `layer_types` the whole model is pruned
    (`prune_low_magnitude(model)`); otherwise only the layers matching either list are
    (`clone_model` with a clone function), and the rest stay dense.
    """

    schedule: str = "polynomial_decay"
    initial_sparsity: float = 0.5  # polynomial_decay only
    final_sparsity: float = 0.95  # the target; ConstantSparsity's sparsity
    begin_step: int = 0
    # polynomial_decay: when final_sparsity is reached; None = one epoch before training ends
    # (see `for_run`), so the last epoch fine-tunes at the final sparsity.
    end_step: int | None = None
    frequency: int = 100  # steps between mask updates
    block_size: tuple[int, int] = (1, 1)  # prune (rows, cols) blocks of 2-D kernels together
    block_pooling_type: str = "AVG"
    sparsity_m_by_n: tuple[int, int] | None = None  # e.g. (2, 4): 2 zeros in every 4 weights
    layer_names: tuple[str, ...] = ()
    layer_types: tuple[str, ...] = ()
    # Per-layer final sparsity, e.g. (("dense1", 0.98), ("conv1", 0.5)): big layers can take more.
    layer_sparsity: tuple[tuple[str, float], ...] = ()

    def __post_init__(self) -> None:
        if self.schedule not in SCHEDULES:
            raise ValueError(f"Unknown schedule {self.schedule!r}; choose one of {SCHEDULES}")
        for name in ("initial_sparsity", "final_sparsity"):
            value = getattr(self, name)
            if not 0 <= value < 1:
                raise ValueError(f"{name} must be in [0, 1), got {value}")
        if self.begin_step < 0:
            raise ValueError(f"begin_step must be >= 0, got {self.begin_step}")
        if self.frequency < 1:
            raise ValueError(f"frequency must be >= 1, got {self.frequency}")
        polynomial = self.schedule == "polynomial_decay"
        if polynomial and self.end_step is not None and self.end_step <= self.begin_step:
            raise ValueError(
                f"end_step must be > begin_step, got end_step={self.end_step}, "
                f"begin_step={self.begin_step}"
            )
        if polynomial and self.initial_sparsity > self.final_sparsity:
            raise ValueError(
                f"initial_sparsity {self.initial_sparsity} exceeds final_sparsity "
                f"{self.final_sparsity}"
            )
        if len(self.block_size) != 2 or min(self.block_size) < 1:
            raise ValueError(f"block_size must be two integers >= 1, got {self.block_size}")
        if self.block_pooling_type not in ("AVG", "MAX"):
            raise ValueError(
                f"block_pooling_type must be AVG or MAX, got {self.block_pooling_type!r}"
            )
        if self.sparsity_m_by_n is not None:
            m, n = self.sparsity_m_by_n
            if not 1 <= m < n:
                raise ValueError(f"sparsity_m_by_n needs 1 <= m < n, got {m}:{n}")
            if tuple(self.block_size) != (1, 1):
                raise ValueError(
                    f"sparsity_m_by_n {m}:{n} and block_size {self.block_size} exclude each other"
                )
        for name, value in self.layer_sparsity:
            if not 0 <= value < 1:
                raise ValueError(f"layer_sparsity[{name!r}] must be in [0, 1), got {value}")
            if self.sparsity_m_by_n:
                raise ValueError("layer_sparsity does not apply to sparsity_m_by_n (always m/n)")
        unknown = sorted(set(self.layer_types) - set(PRUNABLE_LAYER_TYPES))
        if unknown:
            raise ValueError(
                f"Unknown prunable layer type(s) {unknown}; known: {list(PRUNABLE_LAYER_TYPES)}"
            )

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> PruningParams:
        """The inverse of `to_json` (JSON has lists where the fields hold tuples)."""
        values = json.loads(text)
        unknown = sorted(set(values) - {f.name for f in dataclasses.fields(cls)})
        if unknown:
            raise ValueError(f"Unknown pruning parameter(s) {unknown}")
        for key in ("block_size", "sparsity_m_by_n", "layer_names", "layer_types"):
            if values.get(key) is not None:
                values[key] = tuple(values[key])
        if "layer_sparsity" in values:
            values["layer_sparsity"] = tuple(tuple(item) for item in values["layer_sparsity"])
        return cls(**values)

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
        if self.begin_step >= total:
            raise ValueError(
                f"begin_step {self.begin_step} is not before the end of training ({total} steps "
                f"= {epochs} epochs x {steps_per_epoch})"
            )
        if self.schedule == "polynomial_decay":
            if end > total:
                raise ValueError(
                    f"end_step {end} is after the end of training ({total} steps = {epochs} "
                    f"epochs x {steps_per_epoch}): final_sparsity would never be reached"
                )
            if end <= self.begin_step:
                raise ValueError(
                    f"end_step must be > begin_step, got end_step={end}, "
                    f"begin_step={self.begin_step}"
                )
        return dataclasses.replace(
            self, begin_step=self.begin_step + start_step, end_step=end + start_step
        )

    @property
    def whole_model(self) -> bool:
        return not self.layer_names and not self.layer_types

    def final_sparsity_of(self, layer: str) -> float:
        return dict(self.layer_sparsity).get(layer, self.final_sparsity)

    def pruning_schedule(self, layer: str | None = None) -> tfmot.sparsity.keras.PruningSchedule:
        """The schedule, with `layer`'s own final sparsity when `layer_sparsity` names it."""
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
