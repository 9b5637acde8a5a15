"""An exactly equivalent form of a model whose first layer is a strided convolution of few channels.

A 5x5 stride-2 convolution of a one-channel image is the slowest op of the full-integer file:
LiteRT's int8 kernels gather one input channel per tap. Rearranging each 2x2 block of the input
into 4 channels (`tf.nn.space_to_depth`) turns it into a stride-1 convolution of 4 channels with
a 3x3 kernel: every output reads the same inputs with the same weights (the taps that fall
outside the original 5x5 window are zero), so the outputs are the same up to float rounding.
`tflite.convert` applies it to full-integer files (README, "Structured pruning: a narrower
model", has the measurements).
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf
import tf_keras as keras

BLOCK = 2


def first_conv(model: keras.Model) -> keras.layers.Conv2D | None:
    """The model's first layer with a kernel, when it is a plain Conv2D this rewrite can take:
    stride 2 both ways, 'same' padding, no dilation or groups; else None."""
    for layer in model.layers:
        if getattr(layer, "kernel", None) is None:
            continue
        if type(layer) is not keras.layers.Conv2D:
            return None
        if (tuple(layer.strides) == (BLOCK, BLOCK) and layer.padding == "same"
                and tuple(layer.dilation_rate) == (1, 1) and layer.groups == 1
                and layer.data_format == "channels_last"):
            return layer
        return None
    return None


def _taps(size: int) -> tuple[int, np.ndarray, np.ndarray]:
    """For one axis of a kernel of `size` taps at stride 2 with 'same' padding (even input):
    the size of the equivalent stride-1 kernel on the rearranged input, and for each original
    tap its position in that kernel and its offset inside the 2x2 block."""
    pad_before = (size - BLOCK) // 2  # TensorFlow's 'same' on an even input at stride 2
    shifted = np.arange(size) - pad_before
    block, offset = np.floor_divide(shifted, BLOCK), np.mod(shifted, BLOCK)
    new_size = int(block.max() - block.min() + 1)
    # TensorFlow's 'same' at stride 1 pads (new_size - 1) // 2 before: that must be where the
    # first block lies, or the rearranged convolution would read other inputs.
    if -int(block.min()) != (new_size - 1) // 2:
        raise ValueError(f"A {size}-tap kernel has no 'same'-padded stride-1 equivalent")
    return new_size, block - block.min(), offset


def rearranged_kernel(kernel: np.ndarray) -> np.ndarray:
    """The kernel (h, w, c, f) of a stride-2 'same' convolution as the kernel (h', w', 4c, f) of
    the stride-1 'same' convolution of the space-to-depth input (channel (row offset * 2 +
    column offset) * c + channel, TensorFlow's order)."""
    height, width, channels, filters = kernel.shape
    new_h, rows, row_offsets = _taps(height)
    new_w, cols, col_offsets = _taps(width)
    out = np.zeros((new_h, new_w, BLOCK * BLOCK * channels, filters), kernel.dtype)
    for i in range(height):
        for j in range(width):
            start = (row_offsets[i] * BLOCK + col_offsets[j]) * channels
            out[rows[i], cols[j], start:start + channels, :] = kernel[i, j]
    return out


def _is_chain(model: keras.Model) -> bool:
    """Each layer reads the one before it (what both CNN builders make)."""
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        return False
    previous = model.inputs[0]
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        if len(layer.inbound_nodes) != 1 or layer.input is not previous:
            return False
        previous = layer.output
    return previous is model.outputs[0]


def rewrite_first_conv(model: keras.Model) -> keras.Model:
    """`model` with its first convolution computed on the space-to-depth input (shares every
    other layer and its weights); `model` itself when `first_conv` finds none, or when the
    model is not a chain of single-input layers."""
    conv = first_conv(model)
    if conv is None or not _is_chain(model):
        return model
    height, width = conv.input_shape[1:3]
    if height is None or width is None or height % BLOCK or width % BLOCK:
        return model
    kernel = conv.kernel.numpy()
    new_h, _, _ = _taps(kernel.shape[0])
    new_w, _, _ = _taps(kernel.shape[1])
    replacement = keras.layers.Conv2D(
        conv.filters, (new_h, new_w), padding="same", use_bias=conv.use_bias,
        activation=conv.activation, name=f"{conv.name}_space_to_depth")
    inputs = keras.Input(model.inputs[0].shape[1:], name=model.inputs[0].name.split(":")[0])
    outputs = inputs
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        if layer is conv:
            outputs = keras.layers.Lambda(
                lambda x: tf.nn.space_to_depth(x, BLOCK), name="space_to_depth")(outputs)
            outputs = replacement(outputs)
            replacement.set_weights([rearranged_kernel(kernel),
                                     *([conv.bias.numpy()] if conv.use_bias else [])])
        else:
            outputs = layer(outputs)
    return keras.Model(inputs, outputs, name=model.name)
