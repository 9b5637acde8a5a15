"""The narrowed model: every layer rebuilt with the channels its group keeps, weights sliced.

A new Keras model with the original's structure (a Sequential model stays Sequential, a nested
model stays nested), the same layer names and input and output shapes; each layer's config comes
from its rule (`rules.ChannelRule.config`: a convolution's `filters`) and its weights are the
original's at the kept indices (`rules.ChannelRule.weights`).
"""

from __future__ import annotations

import numpy as np
import tf_keras as keras

from pruning.structured.graph import ChannelGraph, LayerRecord
from pruning.structured.rules import LayerKept


def layer_kept(graph: ChannelGraph, record: LayerRecord, keep: np.ndarray) -> LayerKept:
    """The indices `record`'s layer keeps of each input and output, `keep` saying which
    channels (ids) stay."""

    def kept(atoms_list):
        return tuple(np.flatnonzero(keep[graph.channels(atoms)]) for atoms in atoms_list)

    return LayerKept(kept(record.inputs), kept(record.outputs),
                     tuple(len(a) for a in record.inputs), tuple(len(a) for a in record.outputs))


def rebuild(graph: ChannelGraph, keep: np.ndarray) -> tuple[keras.Model, dict[int, LayerKept]]:
    """The model of `graph` without the channels `keep` (a boolean per channel id) leaves out,
    and what each layer (by `id`) kept."""
    kept = {key: layer_kept(graph, record, keep) for key, record in graph.records.items()}
    pairs: list[tuple[keras.layers.Layer, keras.layers.Layer]] = []

    def clone(layer: keras.layers.Layer) -> keras.layers.Layer:
        if isinstance(layer, keras.Model):
            return clone_model(layer)
        record = graph.records.get(id(layer))
        config = layer.get_config()
        config.pop("batch_input_shape", None)  # the rebuilt model's Input gives the shapes
        if record is not None:
            config = record.rule.config(layer, config, kept[id(layer)])
        new = layer.__class__.from_config(config)
        pairs.append((layer, new))
        return new

    def clone_model(model: keras.Model) -> keras.Model:
        record = graph.records.get(id(model))  # None for the top model: its inputs stay whole
        inputs = []
        for index, input_layer in enumerate(model._input_layers):
            config = input_layer.get_config()
            shape = list(config["batch_input_shape"])
            if record is not None:
                shape[-1] = len(kept[id(model)].inputs[index])
            inputs.append(keras.Input(batch_shape=tuple(shape), dtype=config["dtype"],
                                      sparse=config.get("sparse", False),
                                      name=config["name"]))
        if isinstance(model, keras.Sequential):
            return keras.Sequential([inputs[0], *(clone(layer) for layer in model.layers)],
                                    name=model.name)
        return keras.models.clone_model(model, input_tensors=inputs, clone_function=clone)

    narrowed = clone_model(graph.model)
    for original, new in pairs:
        record = graph.records.get(id(original))
        if record is not None and original.weights:
            new.set_weights(record.rule.weights(original, kept[id(original)]))
        elif original.weights:
            new.set_weights(original.get_weights())
    return narrowed, kept
