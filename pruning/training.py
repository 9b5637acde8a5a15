"""Training hyperparameters and the baseline's training run (no pruning)."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import numpy as np
import tf_keras as keras

from pruning import data
from pruning.optim import make_optimizer

LOOPS = ("fit", "custom")


@dataclasses.dataclass(frozen=True)
class TrainingParams:
    """How long and how fast to train. `loop` only matters when pruning (see `fine_tune`)."""

    epochs: int = 3
    batch_size: int = 128
    learning_rate: float = 3e-3  # the peak of the warm-up + cosine schedule
    warmup_fraction: float = 0.1
    augment: bool = True  # random shifts of up to data.MAX_SHIFT (1) pixel
    seed: int = 0
    loop: str = "fit"

    def __post_init__(self) -> None:
        if self.epochs < 1:
            raise ValueError(f"epochs must be >= 1, got {self.epochs}")
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size}")
        if self.learning_rate <= 0:
            raise ValueError(f"learning_rate must be > 0, got {self.learning_rate}")
        if not 0 <= self.warmup_fraction < 1:
            raise ValueError(f"warmup_fraction must be in [0, 1), got {self.warmup_fraction}")
        if self.loop not in LOOPS:
            raise ValueError(f"Unknown training loop {self.loop!r}; choose one of {LOOPS}")

    def steps_per_epoch(self, num_examples: int) -> int:
        return math.ceil(num_examples / self.batch_size)

    def train_dataset(self, images: np.ndarray, labels: np.ndarray):
        """Shuffled (and augmented) batches, repeated: epochs are counted in steps."""
        return data.in_memory_dataset(
            images, labels, self.batch_size, shuffle=True, augment=self.augment, seed=self.seed
        ).repeat()


def compile_model(model: keras.Model, optimizer: keras.optimizers.Optimizer) -> None:
    model.compile(
        optimizer=optimizer,
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
    )


def train_baseline(
    model: keras.Model,
    images: np.ndarray,
    labels: np.ndarray,
    params: TrainingParams,
    *,
    validation_data=None,
    log_dir: str | None = None,
    callbacks: Sequence[keras.callbacks.Callback] = (),
) -> keras.callbacks.History:
    """Trains `model` in place; TensorBoard logs go to `log_dir` when given."""
    keras.utils.set_random_seed(params.seed)
    steps = params.steps_per_epoch(len(images))
    compile_model(model, make_optimizer(params.learning_rate, steps * params.epochs,
                                        params.warmup_fraction))
    all_callbacks = list(callbacks)
    if log_dir:
        all_callbacks.append(keras.callbacks.TensorBoard(log_dir=log_dir, update_freq=100))
    return model.fit(
        params.train_dataset(images, labels),
        epochs=params.epochs,
        steps_per_epoch=steps,
        validation_data=validation_data,
        callbacks=all_callbacks,
        verbose=2,
    )
