"""Wrapping a trained model for pruning: the whole model, or selected layers only."""

from __future__ import annotations

import tensorflow_model_optimization as tfmot
import tf_keras as keras

from pruning import architecture
from pruning.params import PRUNABLE_LAYER_TYPES, PruningParams


def prunable_layers(model: keras.Model) -> list[keras.layers.Layer]:
    """Layers with a kernel the pruning API can sparsify, in model order."""
    return [layer for layer in model.layers if type(layer).__name__ in PRUNABLE_LAYER_TYPES]


def layer_specs(model: keras.Model) -> list[architecture.LayerSpec]:
    """The model's prunable layers as the plain data `architecture.select_layers` checks."""
    return [architecture.LayerSpec(layer.name, type(layer).__name__, tuple(layer.kernel.shape))
            for layer in prunable_layers(model)]


def select_layers(model: keras.Model, params: PruningParams) -> list[keras.layers.Layer]:
    """The layers `params` prunes in `model`; InvalidParam names a layer or shape that fails."""
    chosen = {spec.name for spec in architecture.select_layers(layer_specs(model), params,
                                                                model.name)}
    return [layer for layer in prunable_layers(model) if layer.name in chosen]


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


def strip_pruning(model: keras.Model) -> keras.Model:
    """The deployable model: pruning wrappers removed, the zeros kept in plain kernels."""
    return tfmot.sparsity.keras.strip_pruning(model)
