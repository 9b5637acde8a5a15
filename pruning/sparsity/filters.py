"""Structured pruning: whole convolution filters and dense units, by magnitude, on a schedule.

TFMOT prunes single weights: the zeros stay in dense kernels, so a pruned model is as big in
memory and as slow as the baseline. This prunes whole channels instead, and `shrink` then rebuilds
a narrower model without them. A channel is pruned by zeroing its filter and its batch-norm scale
and shift (a convolution block), or its kernel column and bias (dense1): its output is then
exactly zero, whatever the input, so dropping it, with the next layer's matching input channels,
leaves the model's outputs unchanged.

Like TFMOT's pruning: the removed fraction of each layer follows a schedule (`FilterParams`), the
masks are chosen every `frequency` steps by magnitude (the norm of each filter after batch norm is
folded in, as the deployed file computes it) and re-applied after every training step.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Callable

import numpy as np
import tensorflow as tf
import tf_keras as keras

from pruning import architecture
from pruning.model import cnn, export
from pruning.params import FilterParams, ModelParams, TrainingParams
from pruning.training import checkpoint
from pruning.training.baseline import compile_model, train_dataset
from pruning.training.reproducible import seed_everything
from pruning.training.schedule import make_optimizer

log = logging.getLogger(__name__)
NARROW_FILE = "narrow.keras"  # the shrunk model, once the masked run has finished


def _channel_names() -> tuple[list[str], str]:
    """(the convolution blocks, dense1): the layers that can shrink, whatever their widths."""
    names = list(architecture.shrinkable_layers(ModelParams()))
    return names[:-1], names[-1]


class ChannelMasks:
    """A 0/1 mask over the output channels of each layer that can shrink, as variables (they are
    checkpointed with the model), and the weights each one zeroes."""

    def __init__(self, model: keras.Model):
        self.model = model
        convs, dense = _channel_names()
        self.layers = [*convs, dense]
        self.masks = {name: tf.Variable(tf.ones(self._width(name)), trainable=False,
                                        name=f"{name}_channel_mask") for name in self.layers}

    def _width(self, name: str) -> int:
        return int(self.model.get_layer(name).kernel.shape[-1])

    def _masked_weights(self, name: str) -> list[tuple[tf.Variable, int]]:
        """(variable, axis of the channels) of every weight the channel's output depends on."""
        layer = self.model.get_layer(name)
        if name == self.layers[-1]:
            return [(layer.kernel, 1), (layer.bias, 0)]
        norm = self.model.get_layer(f"{name}_bn")
        return [(layer.kernel, 3), (norm.gamma, 0), (norm.beta, 0)]

    def scores(self, name: str) -> np.ndarray:
        """Each channel's magnitude: the L2 norm of its filter or kernel column, scaled as the
        deployed file computes it (batch norm folded in; dense1's learned output scale)."""
        layer = self.model.get_layer(name)
        kernel = layer.kernel.numpy()
        norms = np.sqrt(np.sum(kernel.reshape(-1, kernel.shape[-1]) ** 2, axis=0))
        if name == self.layers[-1]:
            return norms * np.abs(layer.scale.numpy())
        norm = self.model.get_layer(f"{name}_bn")
        return norms * np.abs(norm.gamma.numpy()) / np.sqrt(norm.moving_variance.numpy()
                                                            + norm.epsilon)

    def update(self, removed: dict[str, float]) -> None:
        """Keeps the channels of largest magnitude; `removed` gives each layer's fraction."""
        for name, fraction in removed.items():
            width = self._width(name)
            keep = width - round(width * fraction)
            order = np.argsort(-self.scores(name), kind="stable")
            mask = np.zeros(width, np.float32)
            mask[order[:keep]] = 1.0
            self.masks[name].assign(mask * self.masks[name].numpy())  # pruned stays pruned

    def apply(self) -> None:
        for name in self.layers:
            mask = self.masks[name]
            for variable, axis in self._masked_weights(name):
                shape = [1] * len(variable.shape)
                shape[axis] = -1
                variable.assign(variable * tf.reshape(mask, shape))

    def kept(self) -> dict[str, np.ndarray]:
        """The indices of the channels each layer keeps."""
        return {name: np.flatnonzero(self.masks[name].numpy()) for name in self.layers}


@dataclasses.dataclass(frozen=True)
class FilterSchedule:
    """Each layer's removed fraction at a training step: 0 until `begin`, the target from `end`,
    a cubic in between (TFMOT's PolynomialDecay, power 3); masks change every `frequency`
    steps."""

    targets: dict[str, float]
    begin: int
    end: int
    frequency: int

    def removed(self, step: int) -> dict[str, float]:
        progress = min(max((step - self.begin) / max(self.end - self.begin, 1), 0.0), 1.0)
        return {name: target * (1 - (1 - progress) ** 3) for name, target in self.targets.items()}

    def update_due(self, step: int) -> bool:
        return self.begin <= step <= self.end and (
            (step - self.begin) % self.frequency == 0 or step == self.end)

    @classmethod
    def for_run(cls, params: FilterParams, steps_per_epoch: int, epochs: int) -> FilterSchedule:
        total = steps_per_epoch * epochs
        end = total - steps_per_epoch if epochs > 1 else max(total // 2, 1)
        return cls(dict(params.filter_sparsity), 0, end, params.frequency)


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


def shrink(model: keras.Model, kept: dict[str, np.ndarray],
           shape: ModelParams | None = None) -> keras.Model:
    """The narrower model without the channels `kept` leaves out, holding the same weights for
    the others: the same outputs as `model` when the left-out channels output zero. `shape`: the
    narrowed shape when the caller has it (`architecture.narrow`), else read off `model`."""
    convs, dense = _channel_names()
    widths = {name: len(indices) for name, indices in kept.items()}
    shape = shape or architecture.narrowed(cnn.model_params(model), widths)
    if architecture.shrinkable_layers(shape) != widths:
        raise ValueError(f"The masks keep {widths}, the shape {shape} has "
                         f"{architecture.shrinkable_layers(shape)}")
    narrow = cnn.build_model(shape)

    def copy(name: str, *weights: np.ndarray) -> None:
        narrow.get_layer(name).set_weights(list(weights))

    inputs = np.arange(1)  # conv1 reads the one image channel
    for name in convs:
        keep = kept[name]
        copy(name, model.get_layer(name).kernel.numpy()[:, :, inputs][..., keep])
        copy(f"{name}_bn", *(w[keep] for w in model.get_layer(f"{name}_bn").get_weights()))
        inputs = keep
    # dense1 reads conv3's output flattened: position-major, channels fastest.
    dense1 = model.get_layer(dense)
    positions = dense1.kernel.shape[0] // model.get_layer(convs[-1]).kernel.shape[-1]
    channels = model.get_layer(convs[-1]).kernel.shape[-1]
    rows = (np.arange(positions)[:, None] * channels + inputs[None, :]).ravel()
    keep = kept[dense]
    kernel, bias, scale = dense1.get_weights()
    copy(dense, kernel[rows][:, keep], bias[keep], scale[keep])
    logits = architecture.dense_layers(shape)[1].name
    kernel, bias = model.get_layer(logits).get_weights()
    copy(logits, kernel[keep], bias)
    return narrow


@dataclasses.dataclass
class FilterResult:
    model: keras.Model  # the narrower model
    shape: ModelParams  # its shape (`architecture.narrow`)
    # "trained" (this call ran the masked fine-tuning), "reloaded" (an earlier attempt had
    # finished it; its shrunk model was loaded) or "shape" (`untrained`).
    source: str

    @property
    def kept(self) -> dict[str, int]:
        """Filters or units each layer kept."""
        return architecture.shrinkable_layers(self.shape)

    @classmethod
    def untrained(cls, shape: ModelParams) -> FilterResult:
        """The narrower model, untrained: for weights restored from elsewhere (a checkpoint of an
        earlier run on the narrowed model)."""
        return cls(cnn.build_model(shape), shape, "shape")


def prune_filters(
    base_model: keras.Model,
    params: FilterParams,
    training: TrainingParams,
    images: np.ndarray,
    labels: np.ndarray,
    *,
    checkpoint_dir: str,
    shape: ModelParams | None = None,
    on_epoch_end: Callable[[int, float], None] | None = None,
) -> FilterResult:
    """Fine-tunes `base_model` (trained, in place) for `params.epochs` while its channels are
    masked on the schedule, then shrinks it. Resumable like `prune.prune_and_fine_tune`: every
    epoch is checkpointed (model, optimizer, masks) in `checkpoint_dir`, and the shrunk model is
    kept there once the run has finished. `shape`: the narrowed shape (`architecture.narrow`)
    when the caller has decided it, else decided here from `base_model`."""
    shape = shape or architecture.narrow(cnn.model_params(base_model), params, base_model.name)
    narrow_path = os.path.join(checkpoint_dir, NARROW_FILE)
    if tf.io.gfile.exists(narrow_path):
        return FilterResult(export.load_keras(narrow_path), shape, "reloaded")
    steps = training.steps_per_epoch(len(images))
    schedule = FilterSchedule.for_run(params, steps, params.epochs)
    seed_everything(training.seed)
    masks = ChannelMasks(base_model)
    optimizer = make_optimizer(params.learning_rate, steps * params.epochs,
                               training.warmup_fraction)
    compile_model(base_model, optimizer, soft_targets=labels.ndim == 2)
    saver = checkpoint.TrainingCheckpoint(
        os.path.join(checkpoint_dir, "masked"), base_model, optimizer,
        extra={f"mask_{name}": mask for name, mask in masks.masks.items()})
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
    narrow = shrink(base_model, masks.kept(), shape)
    export.save_keras(narrow, narrow_path)
    return FilterResult(narrow, shape, "trained")
