"""Wrapping a trained model for pruning: the whole model, or selected layers only."""

from __future__ import annotations

import tensorflow_model_optimization as tfmot
import tf_keras as keras
from tensorflow_model_optimization.python.core.sparsity.keras import prune_registry

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


def _tfmot_wraps_every_layer(model: keras.Model) -> bool:
    """Whether TFMOT's whole-model `prune_low_magnitude(model)` takes every layer: built-in
    Keras layers and `PrunableLayer`s only (a user's own layer type, or a nested model, it
    refuses)."""
    return all(isinstance(layer, keras.layers.InputLayer | tfmot.sparsity.keras.PrunableLayer)
               or (not isinstance(layer, keras.Model)
                   and prune_registry.PruneRegistry.supports(layer))
               for layer in model.layers)


def apply_pruning(model: keras.Model, params: PruningParams) -> keras.Model:
    """The model wrapped for pruning. Layers keep their trained weights (they are not copied).
    The whole model goes through TFMOT's whole-model API where it takes every layer; otherwise,
    and for per-layer targets or a selection, each selected layer is wrapped alone (the same
    layers are pruned either way)."""
    selected = {layer.name for layer in select_layers(model, params)}
    if params.whole_model and not params.layer_sparsity and _tfmot_wraps_every_layer(model):
        return tfmot.sparsity.keras.prune_low_magnitude(model, **params.prune_kwargs())

    def wrap_selected(layer: keras.layers.Layer) -> keras.layers.Layer:
        if layer.name not in selected:
            return layer
        return tfmot.sparsity.keras.prune_low_magnitude(layer, **params.prune_kwargs(layer.name))

    return keras.models.clone_model(model, clone_function=wrap_selected)


def strip_pruning(model: keras.Model) -> keras.Model:
    """The deployable model: pruning wrappers removed, the zeros kept in plain kernels."""
    return tfmot.sparsity.keras.strip_pruning(model)
