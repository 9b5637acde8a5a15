"""What a model's output is: logits (the project's models) or probabilities (a softmax at the end,
as many trained models a user brings have). Every reader of outputs asks here, so a model of
either kind is trained with the right loss, served as probabilities and converted with one
softmax, not two."""

from __future__ import annotations

import tensorflow as tf
import tf_keras as keras


def _is_softmax(activation) -> bool:
    return getattr(activation, "__name__", "") == "softmax"


def gives_probabilities(model: keras.Model) -> bool:
    """Whether the model's (first) output comes out of a softmax: a layer's `softmax`
    activation, `Activation("softmax")` or a `Softmax` layer, in a nested model too."""
    layer = model.outputs[0]._keras_history.layer
    while isinstance(layer, keras.Model | keras.layers.Wrapper):  # nested; TFMOT's wrappers
        layer = (layer.layer if isinstance(layer, keras.layers.Wrapper)
                 else layer.outputs[0]._keras_history.layer)
    return isinstance(layer, keras.layers.Softmax) or _is_softmax(
        getattr(layer, "activation", None))


def probabilities(model: keras.Model, outputs: tf.Tensor) -> tf.Tensor:
    """The class probabilities of `outputs`, which `model` computed."""
    return outputs if gives_probabilities(model) else tf.nn.softmax(outputs)
