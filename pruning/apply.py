"""Wrapping a trained model for pruning: the whole model, or selected layers only."""

from __future__ import annotations

import tensorflow_model_optimization as tfmot
import tf_keras as keras

from pruning.params import PRUNABLE_LAYER_TYPES, InvalidParam, PruningParams


def kernel_input_axis(rank: int) -> int:
    """Axis of a kernel's input channels: where TFMOT groups m:n blocks (Dense 0, Conv2D 2)."""
    return {2: 0, 4: 2}[rank]


def prunable_layers(model: keras.Model) -> list[keras.layers.Layer]:
    """Layers with a kernel the pruning API can sparsify, in model order."""
    return [layer for layer in model.layers if type(layer).__name__ in PRUNABLE_LAYER_TYPES]


def select_layers(model: keras.Model, params: PruningParams) -> list[keras.layers.Layer]:
    """The layers `params` prunes in `model`; InvalidParam names a layer or shape that fails."""
    candidates = prunable_layers(model)
    known = sorted(c.name for c in candidates)
    unknown = sorted({name for name, _ in params.layer_sparsity} - set(known))
    if unknown:
        raise InvalidParam("layer_sparsity", ",".join(unknown),
                           f"must name prunable layers of model {model.name!r}: "
                           f"{', '.join(known)}")
    if params.whole_model:
        selected = candidates
    else:
        unknown = sorted(set(params.layer_names) - set(known))
        if unknown:
            raise InvalidParam("layer_names", ",".join(unknown),
                               f"must name prunable layers of model {model.name!r}: "
                               f"{', '.join(known)}")
        selected = [
            layer for layer in candidates
            if layer.name in params.layer_names or type(layer).__name__ in params.layer_types
        ]
        if not selected:
            raise InvalidParam("layer_types", ",".join(params.layer_types),
                               f"match no layer of model {model.name!r}")
    for layer in selected:
        _check_shapes(layer, params)
    return selected


def _check_shapes(layer: keras.layers.Layer, params: PruningParams) -> None:
    shape = tuple(layer.kernel.shape)
    if params.sparsity_m_by_n:
        m, n = params.sparsity_m_by_n
        channels = shape[kernel_input_axis(len(shape))]
        if channels % n:
            raise InvalidParam(
                "sparsity_m_by_n", f"{m}:{n}",
                f"needs the input channels of layer {layer.name!r} (kernel {shape}) to be a "
                f"multiple of {n}, and it has {channels}; leave that layer out with "
                "layer_names/layer_types")
    rows, cols = params.block_size
    if len(shape) == 2 and (shape[0] % rows or shape[1] % cols):
        raise InvalidParam("block_size", f"{rows}x{cols}",
                           f"must divide the kernel {shape} of layer {layer.name!r}")


def apply_pruning(model: keras.Model, params: PruningParams) -> keras.Model:
    """The model wrapped for pruning. Layers keep their trained weights (they are not copied)."""
    selected = {layer.name for layer in select_layers(model, params)}
    if params.whole_model and not params.layer_sparsity:
        return tfmot.sparsity.keras.prune_low_magnitude(model, **params.prune_kwargs())

    def wrap_selected(layer: keras.layers.Layer) -> keras.layers.Layer:
        if layer.name not in selected:
            return layer
        return tfmot.sparsity.keras.prune_low_magnitude(layer, **params.prune_kwargs(layer.name))

    return keras.models.clone_model(model, clone_function=wrap_selected)


def expected_sparsity(model: keras.Model, params: PruningParams) -> float:
    """Overall sparsity of the selected kernels once every layer reaches its final sparsity."""
    layers = select_layers(model, params)
    if params.sparsity_m_by_n:
        m, n = params.sparsity_m_by_n
        return m / n
    zeros = sum(params.final_sparsity_of(layer.name) * layer.kernel.shape.num_elements()
                for layer in layers)
    return zeros / sum(layer.kernel.shape.num_elements() for layer in layers)


def strip_pruning(model: keras.Model) -> keras.Model:
    """The deployable model: pruning wrappers removed, the zeros kept in plain kernels."""
    return tfmot.sparsity.keras.strip_pruning(model)
