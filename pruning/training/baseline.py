"""The baseline's training run (no pruning) and what every training run shares."""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Sequence

import numpy as np
import tf_keras as keras

from pruning import data
from pruning.model.outputs import gives_probabilities
from pruning.params import TrainingParams
from pruning.training.checkpoint import EpochHook
from pruning.training.metrics import Metrics, evaluate
from pruning.training.reproducible import seed_everything
from pruning.training.schedule import make_optimizer

log = logging.getLogger(__name__)


def train_dataset(params: TrainingParams, images: np.ndarray, labels: np.ndarray):
    """Shuffled (and augmented) batches, repeated: epochs are counted in steps."""
    return data.in_memory_dataset(
        images, labels, params.batch_size, shuffle=True, augment=params.augment, seed=params.seed
    ).repeat()


def compile_model(model: keras.Model, optimizer: keras.optimizers.Optimizer,
                  soft_targets: bool = False) -> None:
    """Cross-entropy of the model's outputs (logits, or probabilities where the model ends in a
    softmax): against class ids, or against probabilities per class (`soft_targets`, e.g.
    `distillation.soft_targets`)."""
    model.compile(optimizer=optimizer, loss=loss_for(model, soft_targets), metrics=[
        keras.metrics.CategoricalAccuracy(name="accuracy") if soft_targets
        else keras.metrics.SparseCategoricalAccuracy(name="accuracy")])


def loss_for(model: keras.Model, soft_targets: bool) -> keras.losses.Loss:
    logits = not gives_probabilities(model)
    if soft_targets:
        return keras.losses.CategoricalCrossentropy(from_logits=logits)
    return keras.losses.SparseCategoricalCrossentropy(from_logits=logits)


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
    seed_everything(params.seed)
    steps = params.steps_per_epoch(len(images))
    compile_model(model, make_optimizer(params.learning_rate, steps * params.epochs,
                                        params.warmup_fraction))
    all_callbacks = list(callbacks)
    if log_dir:
        all_callbacks.append(keras.callbacks.TensorBoard(log_dir=log_dir, update_freq=100))
    return model.fit(
        train_dataset(params, images, labels),
        epochs=params.epochs,
        steps_per_epoch=steps,
        validation_data=validation_data,
        callbacks=all_callbacks,
        verbose=2,
    )


@dataclasses.dataclass(frozen=True)
class BaselineResult:
    model: keras.Model
    metrics: Metrics  # on the eval data
    seconds: float  # training, not evaluation


def make_baseline(
    build: Callable[[], keras.Model],
    training: TrainingParams,
    train: tuple[np.ndarray, np.ndarray],
    eval_data: tuple[np.ndarray, np.ndarray],
    *,
    log_dir: str | None = None,
    on_epoch_end: Callable[[int, float], None] | None = None,
) -> BaselineResult:
    """The Trainer's step: the model `build()` returns (untrained: a model module's
    `build_model(input_shape, num_classes)`), trained from scratch on `train` (images, labels,
    fed in the model's own input shape) and measured on `eval_data`. The same call trains a
    control model (`make_control`).

    `on_epoch_end(epoch, loss)` is called after each epoch (counted from 0) with its mean
    training loss."""
    seed_everything(training.seed)  # the initial weights too, not only `fit`'s
    model = build()
    started = time.monotonic()
    callbacks = [EpochHook(on_epoch_end)] if on_epoch_end else []
    images = data.model_inputs(train[0], model.input_shape)
    train_baseline(model, images, train[1], training, log_dir=log_dir, callbacks=callbacks)
    seconds = time.monotonic() - started
    metrics = evaluate(model, data.in_memory_dataset(
        data.model_inputs(eval_data[0], model.input_shape), eval_data[1], 1000))
    log.info("Baseline: test accuracy %.4f, loss %.4f after %d epochs (%.0f s)",
             metrics.accuracy, metrics.loss, training.epochs, seconds)
    return BaselineResult(model, metrics, seconds)


def make_control(
    pruned: keras.Model,
    training: TrainingParams,
    train: tuple[np.ndarray, np.ndarray],
    eval_data: tuple[np.ndarray, np.ndarray],
    *,
    on_epoch_end: Callable[[int, float], None] | None = None,
) -> BaselineResult:
    """The control a pruned model must beat: its own shape (the narrowed model, its layers
    initialized afresh) trained from scratch with the baseline's recipe; `on_epoch_end` as
    `make_baseline`'s."""
    return make_baseline(lambda: keras.models.clone_model(pruned), training, train, eval_data,
                         on_epoch_end=on_epoch_end)
