"""Exactly equivalent forms of a model's first strided convolutions, for full-integer files.

A 5x5 stride-2 convolution of a one-channel image is the slowest op of the full-integer file:
LiteRT's int8 kernels gather one input channel per tap. Two rearrangements compute the same
outputs with better-shaped convolutions:

- **The 2x2 form.** `tf.nn.space_to_depth` with block 2 turns each 2x2 block of the input into
  4 channels, and the stride-2 convolution becomes a stride-1 convolution of those channels with
  a 3x3 kernel: every output reads the same inputs with the same weights (the taps that fall
  outside the original window are zero).
- **The 4x4 form**, when the first convolution is narrow (at most `MAX_PHASED_FILTERS` filters)
  and a second stride-2 'same' convolution follows it through per-channel layers only (batch
  norm, ReLU). Block 4 turns each 4x4 block of the image into 16 channels, and the first
  convolution computes the 2x2 block of its outputs above each as 4 groups of its filters: its
  output is then exactly the 2x2 space-to-depth form of the original output, which the second
  convolution reads in its own 2x2 form. Both convolutions run on a 7x7 grid of wide inputs
  instead of a 14x14 grid of narrow ones. The batch norm between them holds each channel's
  values 4 times over.

The outputs are the same up to float rounding; in a full-integer file they are the same integers
(each filter's copies share its weights, so its per-channel scale; each activation holds the same
values rearranged, so its calibrated range). `tflite.convert` applies this to full-integer files
(measurements: docs/design.md, "The space-to-depth forms of full-integer files").
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf
import tf_keras as keras

BLOCK = 2  # the stride this rewrites
# The 4x4 form makes the first convolution's outputs 4 times as many channels: it pays for a
# narrow convolution and costs a wide one (docs/benchmarks.md has the measurements).
MAX_PHASED_FILTERS = 8
# Layers that act on each channel alone: between the two convolutions of the 4x4 form they see
# the first one's filters 4 times over, each copy with that filter's weights.
_PER_CHANNEL = (keras.layers.BatchNormalization, keras.layers.ReLU)
# A convolution's own activations that act on each value alone (softmax would mix the groups).
_ELEMENTWISE = (keras.activations.linear, keras.activations.relu)


def _is_rewritable(layer: keras.layers.Layer) -> bool:
    """A plain Conv2D of stride 2 both ways, 'same' padding, no dilation or groups."""
    return (type(layer) is keras.layers.Conv2D
            and tuple(layer.strides) == (BLOCK, BLOCK) and layer.padding == "same"
            and tuple(layer.dilation_rate) == (1, 1) and layer.groups == 1
            and layer.data_format == "channels_last")


def first_conv(model: keras.Model) -> keras.layers.Conv2D | None:
    """The model's first layer with a kernel, when it is a convolution this rewrite can take
    (`_is_rewritable`); else None."""
    for layer in model.layers:
        if getattr(layer, "kernel", None) is None:
            continue
        return layer if _is_rewritable(layer) else None
    return None


def second_conv(model: keras.Model, first: keras.layers.Conv2D) -> keras.layers.Conv2D | None:
    """The convolution the 4x4 form can take with `first`: the next layer with a kernel, when
    only per-channel layers lie between and it can be rewritten too (`_is_rewritable`)."""
    if first.activation not in _ELEMENTWISE:
        return None
    layers = [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]
    for layer in layers[layers.index(first) + 1:]:
        if getattr(layer, "kernel", None) is not None:
            return layer if _is_rewritable(layer) else None
        if not isinstance(layer, _PER_CHANNEL) or (
                isinstance(layer, keras.layers.BatchNormalization)
                and list(np.ravel(layer.axis)) not in ([-1], [3])):
            return None
    return None


def _taps(size: int, phases: int = 1) -> tuple[int, np.ndarray, np.ndarray]:
    """For one axis of a kernel of `size` taps at stride 2 with 'same' padding (an input of
    whole blocks of 2 `phases`): the size of the equivalent stride-1 kernel on the rearranged
    input, and for each output phase (the output's position in its block, [phases, size]) and
    each original tap the position in that kernel and the offset inside the block."""
    block = BLOCK * phases
    pad_before = max(size - BLOCK, 0) // 2  # TensorFlow's 'same' on an even input, stride 2
    shifted = BLOCK * np.arange(phases)[:, None] + np.arange(size)[None, :] - pad_before
    blocks, offsets = np.floor_divide(shifted, block), np.mod(shifted, block)
    new_size = int(blocks.max() - blocks.min() + 1)
    # TensorFlow's 'same' at stride 1 pads (new_size - 1) // 2 before: that must be where the
    # first block lies, or the rearranged convolution would read other inputs.
    if -int(blocks.min()) != (new_size - 1) // 2:
        raise ValueError(f"A {size}-tap kernel has no 'same'-padded stride-1 equivalent")
    return new_size, blocks - blocks.min(), offsets


def rearranged_kernel(kernel: np.ndarray, phases: int = 1) -> np.ndarray:
    """The kernel (h, w, c, f) of a stride-2 'same' convolution as the kernel of the stride-1
    'same' convolution of its input's space-to-depth form with block 2 `phases`:
    (h', w', (2 phases)^2 c, phases^2 f). Input channel (row offset * block + column offset) * c
    + channel, TensorFlow's order; output channel (row phase * phases + column phase) * f +
    filter, so that with `phases` 2 the output is the original output's 2x2 space-to-depth form.
    """
    height, width, channels, filters = kernel.shape
    block = BLOCK * phases
    new_h, rows, row_offsets = _taps(height, phases)
    new_w, cols, col_offsets = _taps(width, phases)
    out = np.zeros((new_h, new_w, block * block * channels, phases * phases * filters),
                   kernel.dtype)
    for a in range(phases):
        for b in range(phases):
            first = (a * phases + b) * filters
            for i in range(height):
                for j in range(width):
                    start = (row_offsets[a, i] * block + col_offsets[b, j]) * channels
                    out[rows[a, i], cols[b, j], start:start + channels,
                        first:first + filters] = kernel[i, j]
    return out


def _is_chain(model: keras.Model) -> bool:
    """Each layer reads the one before it (what both CNN builders make). Read from the model's
    config, which holds this model's connections only: a layer can belong to other models too
    (`prune_model`'s model shares layers with the graphs it was pruned and clustered in)."""
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        return False
    if isinstance(model, keras.Sequential):
        return True
    config = model.get_config()
    previous = None
    for layer in config["layers"]:
        nodes = layer["inbound_nodes"]
        if layer["class_name"] == "InputLayer":
            if previous is not None:
                return False
        elif len(nodes) != 1 or len(nodes[0]) != 1 or nodes[0][0][0] != previous:
            return False
        previous = layer["name"]
    return [list(output) for output in config["output_layers"]] == [[previous, 0, 0]]


def _input_shape(model: keras.Model, target: keras.layers.Layer) -> tuple:
    """The shape `target` reads in this model, a chain (`_is_chain`): traced from the input, as a
    layer that other models share has other calls too."""
    shape = tuple(model.inputs[0].shape)
    for layer in model.layers:
        if layer is target:
            return shape
        if not isinstance(layer, keras.layers.InputLayer):
            shape = tuple(layer.compute_output_shape(shape))
    raise ValueError(f"Layer {target.name!r} is not in model {model.name!r}")


def _rearranged_conv(conv: keras.layers.Conv2D, phases: int, outputs: tf.Tensor) -> tf.Tensor:
    """`conv` as the stride-1 convolution of its input's space-to-depth form, applied to
    `outputs`: its kernel rearranged (`rearranged_kernel`), its bias once per output phase."""
    kernel = rearranged_kernel(conv.kernel.numpy(), phases)
    layer = keras.layers.Conv2D(
        kernel.shape[-1], kernel.shape[:2], padding="same", use_bias=conv.use_bias,
        activation=conv.activation, name=f"{conv.name}_space_to_depth")
    outputs = layer(outputs)
    bias = [np.tile(conv.bias.numpy(), phases * phases)] if conv.use_bias else []
    layer.set_weights([kernel, *bias])
    return outputs


def _copy(layer: keras.layers.Layer, outputs: tf.Tensor,
          weights: list[np.ndarray] | None = None, **config) -> tf.Tensor:
    """`layer`'s copy (its config with `config` changed) applied to `outputs`, holding `weights`
    (default: the layer's own). A copy, not the layer itself: calling the model's own layers
    would give each a second inbound node, and a second rewrite of the model would no longer
    see a chain."""
    copy = type(layer).from_config({**layer.get_config(), **config})
    outputs = copy(outputs)
    copy.set_weights(layer.get_weights() if weights is None else weights)
    return outputs


def rewrite_strided_convs(model: keras.Model,
                          max_phased_filters: int = MAX_PHASED_FILTERS) -> keras.Model:
    """A copy of `model` with its first convolution in the 4x4 form, with the second
    (`second_conv`), when the first has at most `max_phased_filters` filters, else in the 2x2
    form; every other layer a copy with the same weights. `model` itself when `first_conv`
    finds none, when the model is not a chain of single-input layers, or when the input is not
    whole 2x2 blocks."""
    first = first_conv(model)
    if first is None or not _is_chain(model):
        return model
    height, width = _input_shape(model, first)[1:3]
    if height is None or width is None or height % BLOCK or width % BLOCK:
        return model
    second = second_conv(model, first) if first.filters <= max_phased_filters else None
    if height % (2 * BLOCK) or width % (2 * BLOCK):
        second = None
    phases = 1 if second is None else 2
    inputs = keras.Input(model.inputs[0].shape[1:], name=model.inputs[0].name.split(":")[0])
    outputs, between = inputs, False
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        if layer is first:
            outputs = keras.layers.Lambda(
                lambda x, block=BLOCK * phases: tf.nn.space_to_depth(x, block),
                name="space_to_depth")(outputs)
            outputs = _rearranged_conv(layer, phases, outputs)
            between = second is not None
        elif layer is second:
            outputs = _rearranged_conv(layer, 1, outputs)
            between = False
        elif between and isinstance(layer, keras.layers.BatchNormalization):
            outputs = _copy(layer, outputs, [np.tile(w, phases * phases)
                                             for w in layer.get_weights()],
                            axis=-1, name=f"{layer.name}_space_to_depth")
        else:
            outputs = _copy(layer, outputs)
    return keras.Model(inputs, outputs, name=model.name)
