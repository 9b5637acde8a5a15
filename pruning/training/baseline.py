"""The baseline's training run (no pruning) and what every training run shares."""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Mapping, Sequence

import numpy as np
import tf_keras as keras

from pruning import data
from pruning.architecture import narrowed
from pruning.model import cnn
from pruning.params import ModelParams, TrainingParams
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
    """Cross-entropy on the logits: against class ids, or against probabilities per class
    (`soft_targets`, e.g. `distillation.soft_targets`)."""
    model.compile(optimizer=optimizer, loss=loss_for(soft_targets), metrics=[
        keras.metrics.CategoricalAccuracy(name="accuracy") if soft_targets
        else keras.metrics.SparseCategoricalAccuracy(name="accuracy")])


def loss_for(soft_targets: bool) -> keras.losses.Loss:
    if soft_targets:
        return keras.losses.CategoricalCrossentropy(from_logits=True)
    return keras.losses.SparseCategoricalCrossentropy(from_logits=True)


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
    model_params: ModelParams,
    training: TrainingParams,
    train: tuple[np.ndarray, np.ndarray],
    eval_data: tuple[np.ndarray, np.ndarray],
    *,
    log_dir: str | None = None,
    on_epoch_end: Callable[[int, float], None] | None = None,
) -> BaselineResult:
    """The Trainer's step: builds the CNN of `model_params`, trains it from scratch on `train`
    (images, labels) and measures it on `eval_data`. The same call trains a control model: a
    narrowed shape (`ModelParams.filters`) from scratch with the baseline's recipe.

    `on_epoch_end(epoch, loss)` is called after each epoch (counted from 0) with its mean
    training loss."""
    seed_everything(training.seed)  # the initial weights too, not only `fit`'s
    model = cnn.build_model(model_params)
    started = time.monotonic()
    callbacks = [EpochHook(on_epoch_end)] if on_epoch_end else []
    train_baseline(model, *train, training, log_dir=log_dir, callbacks=callbacks)
    seconds = time.monotonic() - started
    metrics = evaluate(model, data.in_memory_dataset(*eval_data, 1000))
    log.info("Baseline: test accuracy %.4f, loss %.4f after %d epochs (%.0f s)",
             metrics.accuracy, metrics.loss, training.epochs, seconds)
    return BaselineResult(model, metrics, seconds)


def make_control(
    model_params: ModelParams,
    kept_channels: Mapping[str, int],
    training: TrainingParams,
    train: tuple[np.ndarray, np.ndarray],
    eval_data: tuple[np.ndarray, np.ndarray],
    *,
    on_epoch_end: Callable[[int, float], None] | None = None,
) -> tuple[BaselineResult, ModelParams]:
    """The control a pruned model must beat: its own shape (`kept_channels` of the full model,
    as structured pruning left them) trained from scratch with the baseline's recipe. Returns
    the result and that shape; `on_epoch_end` as `make_baseline`'s."""
    shape = narrowed(model_params, kept_channels)
    return make_baseline(shape, training, train, eval_data, on_epoch_end=on_epoch_end), shape
