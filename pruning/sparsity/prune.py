"""The PruneTrainer's whole step as plain functions, resumable from per-epoch checkpoints.

`prune_model` is the step (usable from a notebook): optional structured pruning (`filters`), then
`prune_and_fine_tune`, then optional sparsity-preserving clustering, then the figures of the final
model. `prune_and_fine_tune` wraps
the selected layers, trains with either loop, checkpoints model + optimizer every epoch, then
strips the wrappers and measures the sparsity the stripped weights really have.

Three ways a run starts:
- fresh: optimizer step 0;
- resumed: `checkpoint_dir` already holds this run's checkpoint (an interrupted attempt): weights,
  masks, optimizer slots and iterations, and the epoch count are restored and training goes on
  with the epoch after the last one saved;
- warm-started: `warm_start` names another run's checkpoint: its pruned weights and optimizer state
  are restored, and this run trains its own `epochs` more with its schedules (learning rate and
  sparsity) shifted to start at the restored optimizer step.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import time
from collections.abc import Callable

import numpy as np
import tensorflow as tf
import tf_keras as keras

from pruning import data, structured
from pruning.params import (
    ClusteringParams,
    FilterParams,
    InvalidParam,
    PruningParams,
    TrainingParams,
)
from pruning.sparsity import clustering, loops, measure, wrap
from pruning.sparsity import filters as filters_lib
from pruning.training import checkpoint, distillation
from pruning.training.baseline import compile_model, loss_for, train_dataset
from pruning.training.metrics import Metrics, evaluate
from pruning.training.reproducible import seed_everything
from pruning.training.schedule import make_optimizer

log = logging.getLogger(__name__)


@dataclasses.dataclass
class WeightPruningRun:
    model: keras.Model  # stripped: plain layers holding the zeros
    optimizer: keras.optimizers.Optimizer
    saver: checkpoint.TrainingCheckpoint  # export() copies the final state elsewhere
    sparsity: measure.SparsityReport
    pruned_layers: list[str]
    epochs: int  # the run's epochs in all, those of earlier attempts included
    resumed_from_epoch: int  # 0 when this attempt started from the first epoch
    start_step: int  # optimizer step at which this run's schedules began
    losses: list[float]  # mean training loss of each epoch run by this attempt


@dataclasses.dataclass(frozen=True)
class Start:
    """How a weight-pruning run starts (the module docstring): decided once, from the disk."""

    mode: str  # "fresh", "resumed" or "warm"
    checkpoint: str | None  # what it restores: its own newest checkpoint, or another run's
    step: int  # the optimizer step at which its schedules begin

    @classmethod
    def find(cls, checkpoint_dir: str, warm_start: str | None) -> Start:
        own = checkpoint.latest_in(checkpoint_dir)
        if own:
            return cls("resumed", own, checkpoint.saved_value(own, "start_step"))
        if warm_start:
            return cls("warm", warm_start, checkpoint.saved_value(warm_start, "iterations"))
        return cls("fresh", None, 0)


def prune_and_fine_tune(
    base_model: keras.Model,
    params: PruningParams,
    training: TrainingParams,
    images: np.ndarray,
    labels: np.ndarray,
    *,
    checkpoint_dir: str,
    warm_start: str | None = None,
    log_dir: str | None = None,
    on_epoch_end: Callable[[int, float], None] | None = None,
) -> WeightPruningRun:
    """Prunes `base_model` (trained, plain layers) on (images, labels); see the module docstring.

    `on_epoch_end(epoch, loss)` is called after each epoch's checkpoint is written.
    """
    steps = training.steps_per_epoch(len(images))
    start = Start.find(checkpoint_dir, warm_start)
    run_params = params.for_run(steps, training.epochs, start.step)
    pruned_layers = [layer.name for layer in wrap.select_layers(base_model, params)]

    seed_everything(training.seed)
    model = wrap.apply_pruning(base_model, run_params)
    optimizer = make_optimizer(
        training.learning_rate, steps * training.epochs, training.warmup_fraction, start.step
    )
    saver = checkpoint.TrainingCheckpoint(checkpoint_dir, model, optimizer)
    first_epoch = 0  # counted from 0: the epochs already done
    if start.mode == "resumed":
        first_epoch = saver.restore(start.checkpoint)
        log.info("Resuming from %s: %d of %d epochs done", start.checkpoint, first_epoch,
                 training.epochs)
    elif start.mode == "warm":
        saver.restore(start.checkpoint)
        # This run counts its own epochs, from the restored optimizer step.
        saver.epoch.assign(0)
        saver.start_step.assign(start.step)
        log.info("Continuing %s from optimizer step %d", start.checkpoint, start.step)

    dataset = train_dataset(training, images, labels)
    soft = labels.ndim == 2  # probabilities per class (distillation), not class ids
    if params.loop == "fit":
        compile_model(model, optimizer, soft_targets=soft)
        history = loops.fit_with_pruning(
            model,
            dataset,
            epochs=training.epochs,
            steps_per_epoch=steps,
            initial_epoch=first_epoch,
            log_dir=log_dir,
            callbacks=[checkpoint.SaveEveryEpoch(saver), checkpoint.EpochHook(on_epoch_end)],
        )
        losses = [float(x) for x in history.history.get("loss", [])]
    else:
        writer = tf.summary.create_file_writer(log_dir) if log_dir else None

        def after_epoch(epoch: int, loss: float) -> None:
            saver.save(epoch + 1)
            if writer:
                _write_epoch_summaries(writer, model, epoch, loss, optimizer)
            if on_epoch_end:
                on_epoch_end(epoch, loss)

        losses = loops.train_custom_loop(
            model,
            optimizer,
            dataset,
            epochs=training.epochs,
            steps_per_epoch=steps,
            initial_epoch=first_epoch,
            loss_fn=loss_for(model, soft),
            on_epoch_end=after_epoch,
        )

    stripped = wrap.strip_pruning(model)
    return WeightPruningRun(
        model=stripped,
        optimizer=optimizer,
        saver=saver,
        sparsity=measure.measure_sparsity(stripped, pruned_layers),
        pruned_layers=pruned_layers,
        epochs=training.epochs,
        resumed_from_epoch=first_epoch,
        start_step=start.step,
        losses=losses,
    )


def _write_epoch_summaries(writer, model, epoch, loss, optimizer) -> None:
    """The custom loop's TensorBoard scalars: loss, and each wrapped layer's sparsity."""
    with writer.as_default(step=int(optimizer.iterations.numpy())):
        tf.summary.scalar("epoch_loss", loss)
        for layer in model.layers:
            for _, mask, _ in getattr(layer, "pruning_vars", []):
                tf.summary.scalar(f"{layer.name}/sparsity", 1 - tf.reduce_mean(mask))
    writer.flush()


@dataclasses.dataclass
class PrunedModel:
    model: keras.Model  # narrowed (structured pruning), pruned, clustered when clustering is on
    sparsity: measure.SparsityReport  # of `model`'s pruned kernels
    distinct_values: dict[str, int] | None  # per pruned kernel, when clustered
    metrics: Metrics  # of `model` on the eval data
    pruning: WeightPruningRun  # the weight-pruning run: epochs, resume, optimizer, checkpoint
    filters: filters_lib.FilterResult | None  # the structured run, when one ran
    seconds: float  # pruning and clustering, not evaluation

    def sparsity_record(self) -> dict:
        """What sparsity.json holds: per-layer and overall sparsity, widths, distinct values."""
        record = self.sparsity.to_dict()
        if self.filters is not None:
            record["kept_channels"] = self.filters.kept
        if self.distinct_values is not None:
            record["distinct_values"] = self.distinct_values
        return record


def check_model(model: keras.Model, params: PruningParams,
                filter_params: FilterParams | None = None) -> None:
    """`prune_model`'s parameters against `model`, before any training: InvalidParam naming the
    parameter when structured pruning cannot take `filter_params` (a layer that is not there,
    a group that cannot lose channels, a graph it refuses) or weight pruning cannot take
    `params` in the model structured pruning leaves (a layer name, an m:n pattern, a block)."""
    narrowed = model
    if filter_params is not None and filter_params.enabled:
        try:
            narrowed = structured.narrow(model, filter_params.sparsity).model
        except structured.UnsupportedGraphError as error:
            raise InvalidParam("filter_sparsity", filter_params.filter_sparsity,
                               str(error)) from None
    wrap.select_layers(narrowed, params)


# Where each phase keeps its per-epoch checkpoints under the step's checkpoint directory.
FILTERS_DIR, WEIGHTS_DIR = "filters", "weights"


def prune_model(
    base_model: keras.Model,
    params: PruningParams,
    training: TrainingParams,
    clustering_params: ClusteringParams,
    train: tuple[np.ndarray, np.ndarray],
    eval_data: tuple[np.ndarray, np.ndarray],
    *,
    checkpoint_dir: str,
    filter_params: FilterParams | None = None,
    warm_start: str | None = None,
    log_dir: str | None = None,
    on_epoch_end: Callable[[str, int, int, float], None] | None = None,
) -> PrunedModel:
    """The PruneTrainer's step on `base_model` (trained; changed in place):

    1. with `filter_params`, structured pruning narrows it (`filters.prune_filters`), and every
       fine-tuning from there on learns soft targets from the unpruned model
       (`filter_params.teacher_weight`, `distillation.soft_targets`); with `warm_start` too,
       the narrowed shape is built untrained and the checkpoint fills it;
    2. weight pruning with `params` (`prune_and_fine_tune`; resumable, warm-startable);
    3. sparsity-preserving clustering if `clustering_params` asks, with the pruning run's batch
       size, augmentation and seed;
    4. accuracy and loss on `eval_data` (images, labels).

    `on_epoch_end(phase, epoch, epochs, loss)` reports progress: phase FILTERS_DIR or
    WEIGHTS_DIR, the epoch (from 1) of that phase's `epochs`, the epoch's mean training loss.
    """

    def hook(phase: str, epochs: int) -> Callable[[int, float], None] | None:
        if on_epoch_end is None:
            return None
        return lambda epoch, loss: on_epoch_end(phase, epoch + 1, epochs, loss)

    started = time.monotonic()
    images, targets = data.model_inputs(train[0], base_model.input_shape), train[1]
    eval_data = data.model_inputs(eval_data[0], base_model.input_shape), eval_data[1]
    narrowed = None
    if filter_params is not None and filter_params.enabled:
        if filter_params.teacher_weight:
            targets = distillation.soft_targets(base_model, images, targets,
                                                filter_params.teacher_weight)
        if warm_start:
            # The checkpoint holds the narrowed model's weights: its shape is enough.
            narrowed = filters_lib.FilterResult.untrained(base_model, filter_params)
        else:
            narrowed = filters_lib.prune_filters(
                base_model, filter_params, training, images, targets,
                checkpoint_dir=os.path.join(checkpoint_dir, FILTERS_DIR),
                on_epoch_end=hook(FILTERS_DIR, filter_params.epochs))
        log.info("Narrowed to %s", narrowed.kept)
        base_model = narrowed.model
    result = prune_and_fine_tune(base_model, params, training, images, targets,
                                 checkpoint_dir=os.path.join(checkpoint_dir, WEIGHTS_DIR),
                                 warm_start=warm_start, log_dir=log_dir,
                                 on_epoch_end=hook(WEIGHTS_DIR, training.epochs))
    model, distinct = result.model, None
    if clustering_params.enabled:
        log.info("Clustering %s into %d values each, %d epoch(s)",
                 ",".join(result.pruned_layers), clustering_params.clusters,
                 clustering_params.epochs)
        model = clustering.cluster_and_fine_tune(
            model, clustering_params, result.pruned_layers, images, targets,
            batch_size=training.batch_size, augment=training.augment, seed=training.seed)
        distinct = clustering.distinct_values(model, result.pruned_layers)
    seconds = time.monotonic() - started
    return PrunedModel(
        model=model,
        sparsity=measure.measure_sparsity(model, result.pruned_layers),
        distinct_values=distinct,
        metrics=evaluate(model, data.in_memory_dataset(*eval_data, 1000)),
        pruning=result,
        filters=narrowed,
        seconds=seconds,
    )
