"""Structured pruning while fine-tuning: whole channel groups masked on a schedule, then narrowed.

TFMOT prunes single weights: the zeros stay in dense kernels, so a pruned model is as big in
memory and as slow as the baseline. This removes whole channels instead, by the coupled channel
groups of the model's graph (`pruning.structured`), and then rebuilds a narrower model without
them (`structured.narrowed_model`). One mechanism for both halves: a removed channel is masked by
zeroing the input rows of every kernel that reads it, which is exactly the model the narrowed one
computes (the contract of `pruning.structured.narrow`), so the masked run and the narrowed model
agree by construction.

Like TFMOT's pruning: the removed fraction of each group follows a schedule (`FilterSchedule`),
the masks are chosen every `frequency` steps by magnitude (`structured.folded_norm`: each
filter's norm with batch norm folded in, as the deployed file computes it, summed over the
group) and re-applied after every training step.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Callable, Mapping

import numpy as np
import tensorflow as tf
import tf_keras as keras

from pruning import structured
from pruning.model import export
from pruning.params import FilterParams, TrainingParams
from pruning.structured import rules
from pruning.training import checkpoint
from pruning.training.baseline import compile_model, train_dataset
from pruning.training.reproducible import seed_everything
from pruning.training.schedule import make_optimizer

log = logging.getLogger(__name__)
NARROW_FILE = "narrow.keras"  # the narrowed model, once the masked run has finished


class ChannelMasks:
    """A 0/1 mask over the channels of each group structured pruning narrows (`fractions`:
    {group index: target fraction}), as variables (they are checkpointed with the model), and
    the kernel rows each one zeroes: every kernel that reads a channel of a masked group."""

    def __init__(self, graph: structured.ChannelGraph, fractions: Mapping[int, float]):
        self.graph = graph
        self.groups = [graph.groups[index] for index in sorted(fractions)]
        self.masks = {group.index: tf.Variable(tf.ones(group.width), trainable=False,
                                               name=f"channel_mask_{_key(group)}")
                      for group in self.groups}
        # Each masked channel's place in the masks laid end to end; every other channel
        # points past the end, at a constant 1.
        channels = int(graph.channel_of.max()) + 1
        offset = 0
        self._place = np.full(channels, sum(group.width for group in self.groups), np.int64)
        for group in self.groups:
            self._place[group.channels] = offset + np.arange(group.width)
            offset += group.width
        self._readers = []  # (kernel variable, its input axis, the place of each input row)
        for record in graph.records.values():
            if not isinstance(record.rule, rules.Kernel):
                continue
            places = self._place[graph.channels(record.inputs[0])]
            if (places < offset).any():
                kernel = record.layer.kernel
                self._readers.append((kernel, len(kernel.shape) - 2,
                                      tf.constant(places, tf.int64)))

    def checkpointed(self) -> dict[str, tf.Variable]:
        """The mask variables under stable names, for `TrainingCheckpoint(extra=...)`."""
        return {f"mask_{_key(group)}": self.masks[group.index] for group in self.groups}

    def update(self, removed: Mapping[int, float]) -> None:
        """Keeps the channels of largest magnitude; `removed` gives each group's fraction. A
        channel removed earlier stays removed."""
        allowed = self.keep()
        keep = structured.keep_channels(self.graph, removed, structured.folded_norm(self.graph),
                                        allowed)
        for group in self.groups:
            self.masks[group.index].assign(keep[group.channels].astype(np.float32))

    def apply(self) -> None:
        """Zeroes the rows of every kernel that reads a masked channel."""
        every = tf.concat([*(self.masks[group.index] for group in self.groups), [1.0]], 0)
        for kernel, axis, places in self._readers:
            shape = [1] * len(kernel.shape)
            shape[axis] = -1
            kernel.assign(kernel * tf.reshape(tf.gather(every, places), shape))

    def keep(self) -> np.ndarray:
        """A boolean per channel id: False for the channels the masks remove."""
        keep = np.ones(len(self._place), bool)
        for group in self.groups:
            keep[group.channels] = self.masks[group.index].numpy() > 0
        return keep


def _key(group: structured.Group) -> str:
    """A group's name in variables and checkpoints: its first producer's."""
    return (group.producers or group.layers)[0].replace("/", "_")


@dataclasses.dataclass(frozen=True)
class FilterSchedule:
    """Each group's removed fraction at a training step: 0 until `begin`, the target from `end`,
    a cubic in between (TFMOT's PolynomialDecay, power 3); masks change every `frequency`
    steps."""

    targets: dict[int, float]  # {group index: fraction removed at the end}
    begin: int
    end: int
    frequency: int

    def removed(self, step: int) -> dict[int, float]:
        progress = min(max((step - self.begin) / max(self.end - self.begin, 1), 0.0), 1.0)
        return {group: target * (1 - (1 - progress) ** 3)
                for group, target in self.targets.items()}

    def update_due(self, step: int) -> bool:
        return self.begin <= step <= self.end and (
            (step - self.begin) % self.frequency == 0 or step == self.end)

    @classmethod
    def for_run(cls, targets: Mapping[int, float], frequency: int, steps_per_epoch: int,
                epochs: int) -> FilterSchedule:
        total = steps_per_epoch * epochs
        end = total - steps_per_epoch if epochs > 1 else max(total // 2, 1)
        return cls(dict(targets), 0, end, frequency)


class UpdateChannelMasks(keras.callbacks.Callback):
    """After each training step: new masks when the schedule says so, then the masks applied."""

    def __init__(self, masks: ChannelMasks, schedule: FilterSchedule):
        super().__init__()
        self._masks, self._schedule = masks, schedule

    def on_train_begin(self, logs=None):
        self._masks.apply()  # a resumed run starts from its restored masks

    def on_train_batch_end(self, batch, logs=None):
        step = int(self.model.optimizer.iterations.numpy())
        if self._schedule.update_due(step):
            self._masks.update(self._schedule.removed(step))
        self._masks.apply()


@dataclasses.dataclass
class FilterResult:
    model: keras.Model  # the narrower model
    # The channel indices it kept (`structured.Narrowed`); None when the model was reloaded
    # (an earlier attempt had finished the run) or built untrained (`untrained`).
    narrowed: structured.Narrowed | None
    kept: dict[str, int]  # output channels of each kernel layer that lost some
    # "trained" (this call ran the masked fine-tuning), "reloaded" (an earlier attempt had
    # finished it; its narrowed model was loaded) or "shape" (`untrained`).
    source: str

    @classmethod
    def untrained(cls, base_model: keras.Model, params: FilterParams) -> FilterResult:
        """The narrower model, its weights the base model's first channels: for weights restored
        from elsewhere (a checkpoint of an earlier run on the narrowed model)."""
        narrow = structured.narrow(base_model, params.sparsity)
        return cls(narrow.model, None, kept_widths(base_model, narrow.model), "shape")


def kept_widths(base_model: keras.Model, narrow: keras.Model) -> dict[str, int]:
    """{layer: output channels} of each kernel layer of `narrow` narrower than in `base_model`
    (read off the models, so a reloaded narrowed model gives them too)."""
    widths = {}
    for name, layer in _kernel_layers(narrow).items():
        before = _kernel_layers(base_model).get(name)
        if before is not None and layer.kernel.shape[-1] < before.kernel.shape[-1]:
            widths[name] = int(layer.kernel.shape[-1])
    return widths


def _kernel_layers(model: keras.Model) -> dict[str, keras.layers.Layer]:
    found = {}
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            found.update(_kernel_layers(layer))
        elif getattr(layer, "kernel", None) is not None:
            found[layer.name] = layer
    return found


def prune_filters(
    base_model: keras.Model,
    params: FilterParams,
    training: TrainingParams,
    images: np.ndarray,
    labels: np.ndarray,
    *,
    checkpoint_dir: str,
    on_epoch_end: Callable[[int, float], None] | None = None,
) -> FilterResult:
    """Fine-tunes `base_model` (trained, in place) for `params.epochs` while its channel groups
    are masked on the schedule, then narrows it. Resumable like `prune.prune_and_fine_tune`:
    every epoch is checkpointed (model, optimizer, masks) in `checkpoint_dir`, and the narrowed
    model is kept there once the run has finished. A sparsity the model cannot take raises
    `structured.SparsityError` before any training."""
    graph = structured.analyze(base_model)
    fractions = structured.group_fractions(graph, params.sparsity)
    narrow_path = os.path.join(checkpoint_dir, NARROW_FILE)
    if tf.io.gfile.exists(narrow_path):
        narrow = export.load_keras(narrow_path)
        return FilterResult(narrow, None, kept_widths(base_model, narrow), "reloaded")
    steps = training.steps_per_epoch(len(images))
    schedule = FilterSchedule.for_run(fractions, params.frequency, steps, params.epochs)
    seed_everything(training.seed)
    masks = ChannelMasks(graph, fractions)
    optimizer = make_optimizer(params.learning_rate, steps * params.epochs,
                               training.warmup_fraction)
    compile_model(base_model, optimizer, soft_targets=labels.ndim == 2)
    saver = checkpoint.TrainingCheckpoint(os.path.join(checkpoint_dir, "masked"), base_model,
                                          optimizer, extra=masks.checkpointed())
    done = saver.restore_latest()
    if done:
        log.info("Resuming the masked run after epoch %d of %d", done, params.epochs)
    base_model.fit(
        train_dataset(training, images, labels), epochs=params.epochs, initial_epoch=done,
        steps_per_epoch=steps, verbose=2,
        callbacks=[UpdateChannelMasks(masks, schedule), checkpoint.SaveEveryEpoch(saver),
                   checkpoint.EpochHook(on_epoch_end)])
    masks.update(schedule.removed(schedule.end))  # the targets, whatever the run's length
    masks.apply()
    narrowed = structured.narrowed_model(graph, masks.keep())
    export.save_keras(narrowed.model, narrow_path)
    return FilterResult(narrowed.model, narrowed, kept_widths(base_model, narrowed.model),
                        "trained")
