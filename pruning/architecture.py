"""The CNN's layers as plain data, and which of them a PruningParams prunes; no TensorFlow.

`model.cnn.build_model` builds the Keras model from `conv_blocks` and `dense_layers`, and
`select_layers` checks pruning parameters against the same table: a layer name the model lacks,
an m:n pattern its input channels cannot take, a block that does not divide a kernel;
`narrowed_layers` gives the table structured pruning leaves. The pipeline's settings run those
checks on the project's CNN in milliseconds, before TensorFlow is imported; any model is checked
on its built Keras layers (`sparsity.wrap.select_layers`, `pruning.structured`).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

from pruning.image_data import IMAGE_SHAPE, NUM_CLASSES
from pruning.params import (
    PRUNABLE_LAYER_TYPES,
    InvalidParam,
    ModelParams,
    PruningParams,
    kept_count,
)

# The pipeline's per-layer pruning targets for this CNN: the wide dense1 takes the most, the
# first convolution (every feature depends on it) the least.
DEFAULT_LAYER_SPARSITY = (("dense1", 0.97), ("conv3", 0.9), ("conv2", 0.85), ("conv1", 0.5),
                          ("logits", 0.7))
# Structured pruning of this CNN (the pipeline's PRUNE_FILTER_SPARSITY default): the fraction
# of each layer's filters (units) removed. At the default width: conv1 32 -> 8, conv2 64 -> 32,
# conv3 64 -> 8, dense1 256 -> 24. The shape whose micro file fits a microcontroller's 16 KB of
# flash (TFLite Micro stores every weight, zero or not): a thin conv3 and dense1, which hold most
# of the weights (docs/design.md, "The micro shape").
NARROW_FILTER_SPARSITY = (("conv1", 0.75), ("conv2", 0.5), ("conv3", 0.875),
                           ("dense1", 0.90625))
# The weight-pruning targets after that: a layer this narrow has few weights to spare, and its
# zeros shrink the gzip file, not the micro file, so they stay moderate.
NARROW_LAYER_SPARSITY = (("dense1", 0.6), ("conv3", 0.3), ("conv2", 0.3), ("conv1", 0.2),
                         ("logits", 0.3))


@dataclasses.dataclass(frozen=True)
class ConvBlock:
    """Conv2D (no bias) -> BatchNormalization -> ReLU, the layers named name, name_bn, name_relu."""

    name: str
    filters: int
    size: int
    strides: int
    padding: str  # "same" or "valid"


@dataclasses.dataclass(frozen=True)
class LayerSpec:
    """A layer with a kernel: its name, its Keras class name and its kernel's shape."""

    name: str
    type: str
    kernel_shape: tuple[int, ...]

    @property
    def input_channels(self) -> int:
        """Where TFMOT groups m:n blocks: a Dense kernel's rows, a Conv2D kernel's 3rd axis."""
        return self.kernel_shape[kernel_input_axis(len(self.kernel_shape))]


def kernel_input_axis(rank: int) -> int:
    """Axis of a kernel's input channels (Dense 0, Conv2D 2)."""
    return {2: 0, 4: 2}[rank]


def model_name(params: ModelParams) -> str:
    return f"cnn_{params.keras_api}"


def conv_blocks(params: ModelParams) -> tuple[ConvBlock, ...]:
    """Strided convolutions instead of full-resolution ones and max-pooling: on a 2-core CPU an
    epoch takes a quarter of the time (docs/design.md)."""
    conv1, conv2, conv3 = params.width, 2 * params.width, 2 * params.width
    return (
        ConvBlock("conv1", conv1, 5, 2, "same"),  # 14 x 14
        ConvBlock("conv2", conv2, 3, 2, "same"),  # 7 x 7
        # "valid", not "same": a padded 3x3 convolution at 7x7 more than doubled the epoch time.
        ConvBlock("conv3", conv3, 3, 1, "valid"),  # 5 x 5
    )


def dense_layers(params: ModelParams, image_shape: Sequence[int] = IMAGE_SHAPE,
                 num_classes: int = NUM_CLASSES) -> tuple[LayerSpec, ...]:
    """dense1 (the custom ScaledDense) on the flattened features, then the logits."""
    side_h, side_w = image_shape[:2]
    for block in conv_blocks(params):
        side_h, side_w = (_output_side(side, block) for side in (side_h, side_w))
    features = side_h * side_w * conv_blocks(params)[-1].filters
    return (
        LayerSpec("dense1", "ScaledDense", (features, params.dense_units)),
        LayerSpec("logits", "Dense", (params.dense_units, num_classes)),
    )


def _output_side(side: int, block: ConvBlock) -> int:
    if block.padding == "valid":
        side = side - block.size + 1
    return math.ceil(side / block.strides)


def prunable_layers(params: ModelParams, image_shape: Sequence[int] = IMAGE_SHAPE,
                    num_classes: int = NUM_CLASSES) -> tuple[LayerSpec, ...]:
    """Every layer with a kernel, in model order."""
    channels = image_shape[2]
    convolutions = []
    for block in conv_blocks(params):
        convolutions.append(LayerSpec(block.name, "Conv2D",
                                      (block.size, block.size, channels, block.filters)))
        channels = block.filters
    return (*convolutions, *dense_layers(params, image_shape, num_classes))


def select_layers(layers: Sequence[LayerSpec], params: PruningParams,
                  model: str = "the model") -> list[LayerSpec]:
    """The layers `params` prunes among `layers` (a model's prunable ones, in model order);
    InvalidParam naming the parameter when a name, a type or a kernel shape does not fit."""
    candidates = [layer for layer in layers if layer.type in PRUNABLE_LAYER_TYPES]
    known = [layer.name for layer in candidates]
    where = f"must name prunable layers of model {model!r}: {', '.join(known)}"
    unknown = sorted({name for name, _ in params.layer_sparsity} - set(known))
    if unknown:
        raise InvalidParam("layer_sparsity", ",".join(unknown), where)
    if params.whole_model:
        selected = candidates
    else:
        unknown = sorted(set(params.layer_names) - set(known))
        if unknown:
            raise InvalidParam("layer_names", ",".join(unknown), where)
        selected = [layer for layer in candidates
                    if layer.name in params.layer_names or layer.type in params.layer_types]
        if not selected:
            raise InvalidParam("layer_types", ",".join(params.layer_types),
                               f"match no layer of model {model!r}")
    for layer in selected:
        _check_shape(layer, params)
    return selected


def _check_shape(layer: LayerSpec, params: PruningParams) -> None:
    shape = layer.kernel_shape
    if params.sparsity_m_by_n:
        m, n = params.sparsity_m_by_n
        if layer.input_channels % n:
            raise InvalidParam(
                "sparsity_m_by_n", f"{m}:{n}",
                f"needs the input channels of layer {layer.name!r} (kernel {shape}) to be a "
                f"multiple of {n}, and it has {layer.input_channels}; leave that layer out with "
                "layer_names/layer_types")
    rows, cols = params.block_size
    if len(shape) == 2 and (shape[0] % rows or shape[1] % cols):
        raise InvalidParam("block_size", f"{rows}x{cols}",
                           f"must divide the kernel {shape} of layer {layer.name!r}")


def narrowed_layers(layers: Sequence[LayerSpec],
                    sparsity: float | Sequence[tuple[str, float]],
                    model: str = "the model") -> list[LayerSpec]:
    """The layer table of a chain of kernel layers (each one's outputs are the next one's
    inputs, through per-channel layers and a Flatten: this CNN) after structured pruning with
    `sparsity` (`FilterParams.filter_sparsity`): the same channel counts
    `pruning.structured.narrow` leaves in the built model (tests/pruning/test_architecture.py).
    The last layer's outputs are the classes: they never narrow. InvalidParam names a layer
    that is not there or cannot narrow."""
    narrowable = [spec.name for spec in layers[:-1]]
    if isinstance(sparsity, float | int):
        fractions = dict.fromkeys(narrowable, float(sparsity))
    else:
        fractions = dict(sparsity)
    for name, fraction in fractions.items():
        if name not in narrowable:
            why = ("a layer whose outputs are the model's own: they cannot lose channels"
                   if name in [spec.name for spec in layers] else "not a layer")
            raise InvalidParam("filter_sparsity", f"{name}:{fraction}",
                               f"names {name!r}, {why} (model {model!r}); layers that can lose "
                               f"channels: {', '.join(narrowable)}")
    narrowed, kept_inputs = [], None
    for spec in layers:
        shape = list(spec.kernel_shape)
        axis = kernel_input_axis(len(shape))
        if kept_inputs is not None:
            before, after = kept_inputs
            shape[axis] = shape[axis] // before * after  # a Flatten repeats them per position
        outputs = shape[-1]
        if spec.name in fractions:
            shape[-1] = kept_count(outputs, fractions[spec.name])
        kept_inputs = (outputs, shape[-1])
        narrowed.append(dataclasses.replace(spec, kernel_shape=tuple(shape)))
    return narrowed
