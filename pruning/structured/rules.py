"""How each layer type treats channels: the rules the graph analysis applies, and their registry.

A tensor's channels (its last axis: channels-last only) are traced as *atoms*, one id per
channel. A rule says, for one call of its layer, which atoms its outputs carry: the same ones (a
batch normalization, an activation, a pooling: the channel passes through), new ones (a
convolution's filters), a rearrangement (a concatenation, a flatten), and which atoms it ties
together (an addition's operands). It also says how the layer is rebuilt once some channels are
gone: its config (a convolution's `filters`) and its weights sliced at the kept indices.

A layer type without a rule is *opaque*: its inputs' channels and its outputs' are fixed, so
every group of channels that touches it is left whole, and the narrowed model still computes
what the original computes. `register_rule` adds a rule for a layer type of one's own:

    register_rule(MyChannelScale, PerChannel())       # a weight of shape (channels,)
    register_rule(MyDense, Kernel("units"))           # a kernel (inputs, units) and a bias
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Protocol

import numpy as np
import tf_keras as keras

Atoms = np.ndarray  # int64: the atom id of each channel of a tensor's last axis


class Tracer(Protocol):
    """What a rule may ask of the graph being traced (`graph.ChannelGraph` implements it)."""

    def new_atoms(self, count: int, *, fixed: str | None = None) -> Atoms:
        """`count` new channels; `fixed` says why they can never be removed, if so."""

    def couple(self, first: Atoms, second: Atoms) -> None:
        """Channel i of `first` and channel i of `second` stand or fall together."""

    def fix(self, atoms: Atoms, reason: str) -> None:
        """These channels can never be removed, for `reason`."""


@dataclasses.dataclass(frozen=True)
class LayerKept:
    """The channel indices one layer keeps: of each input's last axis and each output's."""

    inputs: tuple[np.ndarray, ...]
    outputs: tuple[np.ndarray, ...]
    input_widths: tuple[int, ...]
    output_widths: tuple[int, ...]


def describe(layer: keras.layers.Layer) -> str:
    """'conv1' (Conv2D): how an error or a reason names a layer."""
    return f"{layer.name!r} ({type(layer).__name__})"


class ChannelRule:
    """How a layer type maps its inputs' channels to its outputs' (see the module docstring).
    The base class is the opaque rule: nothing passes through, nothing can be removed. A rule
    that does not `accept` a layer (a softmax activation, a grouped convolution) leaves it to
    the opaque rule, for its weights and config too."""

    def accepts(self, layer: keras.layers.Layer, inputs: Sequence[Atoms],
                input_ranks: Sequence[int], output_widths: Sequence[int]) -> bool:
        """Whether this rule sees through `layer` called on tensors of these channels."""
        return True

    def trace(self, tracer: Tracer, layer: keras.layers.Layer, inputs: Sequence[Atoms],
              input_ranks: Sequence[int], output_widths: Sequence[int]) -> list[Atoms]:
        """The atoms of each output of one call, given each input's atoms and rank."""
        reason = f"it passes through layer {describe(layer)}, which the analysis cannot see into"
        for atoms in inputs:
            tracer.fix(atoms, reason)
        return [tracer.new_atoms(width, fixed=reason) for width in output_widths]

    def config(self, layer: keras.layers.Layer, config: dict, kept: LayerKept) -> dict:
        """The layer's config for the narrowed model."""
        return config

    def weights(self, layer: keras.layers.Layer, kept: LayerKept) -> list[np.ndarray]:
        """The layer's weights for the narrowed model, in `get_weights` order."""
        return layer.get_weights()

    def output_scale(self, layer: keras.layers.Layer) -> np.ndarray | None:
        """A per-output factor the layer applies after its kernel (importance), if any."""
        return None


Opaque = ChannelRule


class UnsupportedGraphError(ValueError):
    """A model the analysis refuses, naming the layer at fault: nothing has been changed."""


def _sliced(weight: np.ndarray, kept: np.ndarray, width: int, axis: int) -> np.ndarray:
    """`weight` at the `kept` indices of `axis` when that axis holds the `width` channels;
    unchanged when it holds one value for all of them (a broadcast)."""
    if weight.shape[axis] == width:
        return np.take(weight, kept, axis=axis)
    if weight.shape[axis] == 1:
        return weight
    raise UnsupportedGraphError(f"A weight of shape {weight.shape} has neither {width} nor 1 "
                                f"values on axis {axis}")


class PassThrough(ChannelRule):
    """Each output channel is its input channel, computed alone: activations, dropout, pooling,
    padding. `per_channel`: the layer holds weights with one value per channel on their last
    axis (a batch normalization, a PReLU), sliced with the channels."""

    def __init__(self, per_channel: bool = False):
        self.per_channel = per_channel

    def accepts(self, layer, inputs, input_ranks, output_widths):
        return len(inputs) == 1 and all(width == len(inputs[0]) for width in output_widths)

    def trace(self, tracer, layer, inputs, input_ranks, output_widths):
        return [inputs[0] for _ in output_widths]

    def weights(self, layer, kept):
        if not self.per_channel:
            return layer.get_weights()
        return [_sliced(w, kept.inputs[0], kept.input_widths[0], -1) for w in layer.get_weights()]


class PerChannel(PassThrough):
    """A pass-through layer whose weights hold one value per channel on their last axis."""

    def __init__(self):
        super().__init__(per_channel=True)


class BatchNormalization(PerChannel):
    """Gamma, beta and the moving statistics follow their channels; a normalization over any
    axis but the last is opaque."""

    def accepts(self, layer, inputs, input_ranks, output_widths):
        axes = [int(a) for a in np.ravel(layer.axis)]
        return (super().accepts(layer, inputs, input_ranks, output_widths) and len(axes) == 1
                and axes[0] in (-1, input_ranks[0] - 1))


class Activation(PassThrough):
    """keras.layers.Activation: channels pass through, except a softmax, which mixes them."""

    def accepts(self, layer, inputs, input_ranks, output_widths):
        return (super().accepts(layer, inputs, input_ranks, output_widths)
                and not _mixes_channels(layer.activation))


def _mixes_channels(activation) -> bool:
    name = getattr(activation, "__name__", "")
    return name in ("softmax", "log_softmax")


class Kernel(ChannelRule):
    """A layer whose `kernel` mixes its input channels into new output channels: Dense and the
    convolutions (kernel (..., inputs, outputs)). `width`: the config key of its output count
    ("units", "filters"); every other weight holds one value per output (a bias, a scale).
    `output_scale`: the attribute of a per-output factor the layer applies to its kernel's
    output (ScaledDense's `scale`), which the importance of a channel includes."""

    def __init__(self, width: str, output_scale: str | None = None):
        self.width = width
        self.scale_attribute = output_scale

    def accepts(self, layer, inputs, input_ranks, output_widths):
        return len(inputs) == 1 and len(output_widths) == 1

    def trace(self, tracer, layer, inputs, input_ranks, output_widths):
        fixed = (f"layer {describe(layer)} applies a softmax across them"
                 if _mixes_channels(getattr(layer, "activation", None)) else None)
        return [tracer.new_atoms(output_widths[0], fixed=fixed)]

    def config(self, layer, config, kept):
        return {**config, self.width: len(kept.outputs[0])}

    def weights(self, layer, kept):
        kernel = layer.kernel
        out = []
        for variable, value in zip(layer.weights, layer.get_weights(), strict=True):
            if variable is kernel:
                value = np.take(value, kept.inputs[0], axis=value.ndim - 2)
                value = np.take(value, kept.outputs[0], axis=value.ndim - 1)
            else:
                value = _sliced(value, kept.outputs[0], kept.output_widths[0], -1)
            out.append(value)
        return out

    def output_scale(self, layer):
        if self.scale_attribute is None:
            return None
        return np.abs(getattr(layer, self.scale_attribute).numpy())


class Convolution(Kernel):
    """Conv1D/2D/3D: a kernel rule when the convolution is one group; grouped ones are opaque."""

    def __init__(self):
        super().__init__("filters")

    def accepts(self, layer, inputs, input_ranks, output_widths):
        return (getattr(layer, "groups", 1) == 1
                and super().accepts(layer, inputs, input_ranks, output_widths))


class Depthwise(ChannelRule):
    """DepthwiseConv2D: output channel c * m + k filters input channel c alone (m the depth
    multiplier), so the channels pass through; its kernel's axis 2 and its bias follow them."""

    def accepts(self, layer, inputs, input_ranks, output_widths):
        return (len(inputs) == 1 and len(output_widths) == 1
                and output_widths[0] == len(inputs[0]) * int(layer.depth_multiplier))

    def trace(self, tracer, layer, inputs, input_ranks, output_widths):
        return [np.repeat(inputs[0], int(layer.depth_multiplier))]

    def weights(self, layer, kept):
        out = []
        for variable, value in zip(layer.weights, layer.get_weights(), strict=True):
            if variable is layer.depthwise_kernel:
                value = np.take(value, kept.inputs[0], axis=2)
            else:
                value = _sliced(value, kept.outputs[0], kept.output_widths[0], -1)
            out.append(value)
        return out


class Elementwise(ChannelRule):
    """Add, Subtract, Multiply, Average, Maximum, Minimum: channel i of every operand meets
    channel i of the others, so they are coupled. An operand with one channel, broadcast
    across all of them, is fixed."""

    def accepts(self, layer, inputs, input_ranks, output_widths):
        width = output_widths[0]
        return (len(output_widths) == 1 and any(len(atoms) == width for atoms in inputs)
                and all(len(atoms) in (1, width) for atoms in inputs))

    def trace(self, tracer, layer, inputs, input_ranks, output_widths):
        width = output_widths[0]
        full = [atoms for atoms in inputs if len(atoms) == width]
        for atoms in inputs:
            if len(atoms) == width:
                tracer.couple(full[0], atoms)
            else:
                tracer.fix(atoms, f"layer {describe(layer)} broadcasts it across channels")
        # A copy: the output is not the first operand (a batch normalization after the sum does
        # not fold into that operand's kernel, `importance`).
        return [full[0].copy()]


_ELEMENTWISE = Elementwise()


class Concatenate(ChannelRule):
    """Concatenation on the channel axis: each part keeps its channels, at its offset. On
    another axis the parts meet channel by channel, like an addition's operands."""

    def _on_channels(self, layer, input_ranks) -> bool:
        return int(layer.axis) in (-1, input_ranks[0] - 1)

    def accepts(self, layer, inputs, input_ranks, output_widths):
        if self._on_channels(layer, input_ranks):
            return sum(len(atoms) for atoms in inputs) == output_widths[0]
        return _ELEMENTWISE.accepts(layer, inputs, input_ranks, output_widths)

    def trace(self, tracer, layer, inputs, input_ranks, output_widths):
        if self._on_channels(layer, input_ranks):
            return [np.concatenate(list(inputs))]
        return _ELEMENTWISE.trace(tracer, layer, inputs, input_ranks, output_widths)


class Flatten(ChannelRule):
    """Flatten of a channels-last tensor: position-major, channels fastest, so output feature
    p * channels + c is channel c at position p."""

    def accepts(self, layer, inputs, input_ranks, output_widths):
        return len(inputs) == 1 and output_widths[0] % len(inputs[0]) == 0

    def trace(self, tracer, layer, inputs, input_ranks, output_widths):
        return [np.tile(inputs[0], output_widths[0] // len(inputs[0]))]


class Reshape(ChannelRule):
    """A Reshape that keeps the channel axis last and whole ((h, w, c) -> (h * w, c)) passes the
    channels through; any other mixes them and is opaque."""

    def accepts(self, layer, inputs, input_ranks, output_widths):
        return (len(inputs) == 1 and tuple(layer.target_shape)[-1] == len(inputs[0])
                == output_widths[0])

    def trace(self, tracer, layer, inputs, input_ranks, output_widths):
        return [inputs[0]]

    def config(self, layer, config, kept):
        shape = list(config["target_shape"])
        shape[-1] = len(kept.outputs[0])
        return {**config, "target_shape": tuple(shape)}


_layers = keras.layers
_RULES: dict[type, ChannelRule] = {}


def register_rule(layer_type: type, rule: ChannelRule) -> None:
    """Use `rule` for `layer_type` and its subclasses (unless one has a rule of its own)."""
    if not (isinstance(layer_type, type) and issubclass(layer_type, keras.layers.Layer)):
        raise TypeError(f"register_rule needs a Keras layer class, got {layer_type!r}")
    if not isinstance(rule, ChannelRule):
        raise TypeError(f"register_rule needs a ChannelRule, got {rule!r}")
    _RULES[layer_type] = rule


def rule_for(layer: keras.layers.Layer) -> ChannelRule:
    """The rule of the layer's class, or of its nearest registered base class; else opaque."""
    for cls in type(layer).__mro__:
        if cls in _RULES:
            return _RULES[cls]
    return ChannelRule()


def _register_builtin() -> None:
    from pruning.model.layers import ScaledDense

    passing = PassThrough()
    for layer_type in (
        _layers.ReLU, _layers.LeakyReLU, _layers.ELU, _layers.ThresholdedReLU,
        _layers.Dropout, _layers.SpatialDropout1D, _layers.SpatialDropout2D,
        _layers.SpatialDropout3D, _layers.GaussianNoise, _layers.GaussianDropout,
        _layers.AlphaDropout, _layers.ActivityRegularization,
        _layers.MaxPooling1D, _layers.MaxPooling2D, _layers.MaxPooling3D,
        _layers.AveragePooling1D, _layers.AveragePooling2D, _layers.AveragePooling3D,
        _layers.GlobalMaxPooling1D, _layers.GlobalMaxPooling2D, _layers.GlobalMaxPooling3D,
        _layers.GlobalAveragePooling1D, _layers.GlobalAveragePooling2D,
        _layers.GlobalAveragePooling3D,
        _layers.ZeroPadding1D, _layers.ZeroPadding2D, _layers.ZeroPadding3D,
        _layers.Cropping1D, _layers.Cropping2D, _layers.Cropping3D,
        _layers.UpSampling1D, _layers.UpSampling2D, _layers.UpSampling3D,
    ):
        register_rule(layer_type, passing)
    register_rule(_layers.Activation, Activation())
    register_rule(_layers.PReLU, PerChannel())
    register_rule(_layers.BatchNormalization, BatchNormalization())
    register_rule(_layers.Dense, Kernel("units"))
    register_rule(ScaledDense, Kernel("units", output_scale="scale"))
    for layer_type in (_layers.Conv1D, _layers.Conv2D, _layers.Conv3D):
        register_rule(layer_type, Convolution())
    for layer_type in (_layers.Conv1DTranspose, _layers.Conv2DTranspose,
                       _layers.Conv3DTranspose, _layers.SeparableConv1D,
                       _layers.SeparableConv2D):
        register_rule(layer_type, ChannelRule())  # their kernels' axes differ: opaque
    register_rule(_layers.DepthwiseConv2D, Depthwise())
    for layer_type in (_layers.Add, _layers.Subtract, _layers.Multiply, _layers.Average,
                       _layers.Maximum, _layers.Minimum):
        register_rule(layer_type, _ELEMENTWISE)
    register_rule(_layers.Concatenate, Concatenate())
    register_rule(_layers.Flatten, Flatten())
    register_rule(_layers.Reshape, Reshape())


_register_builtin()
