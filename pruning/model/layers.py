"""The model's custom layer, prunable and clusterable through TFMOT's `PrunableLayer` and
`ClusterableLayer` interfaces."""

from __future__ import annotations

import tensorflow as tf
import tensorflow_model_optimization as tfmot
import tf_keras as keras


@keras.utils.register_keras_serializable(package="pruning")
class ScaledDense(
    keras.layers.Layer, tfmot.sparsity.keras.PrunableLayer, tfmot.clustering.keras.ClusterableLayer
):
    """A dense layer with a learned per-unit output scale (LayerScale).

    The scale lets a heavily pruned kernel keep its output magnitude. Only the kernel is prunable
    (`get_prunable_weights`): the bias and scale are tiny and pruning them would hurt accuracy.
    """

    def __init__(self, units: int, activation=None, **kwargs):
        super().__init__(**kwargs)
        if units < 1:
            raise ValueError(f"units must be >= 1, got {units}")
        self.units = units
        self.activation = keras.activations.get(activation)

    def build(self, input_shape):
        in_features = int(input_shape[-1])
        self.kernel = self.add_weight(
            name="kernel", shape=(in_features, self.units), initializer="he_normal"
        )
        self.bias = self.add_weight(name="bias", shape=(self.units,), initializer="zeros")
        self.scale = self.add_weight(name="scale", shape=(self.units,), initializer="ones")
        super().build(input_shape)

    def call(self, inputs):
        return self.activation((tf.matmul(inputs, self.kernel) + self.bias) * self.scale)

    def get_prunable_weights(self):
        return [self.kernel]

    def get_clusterable_weights(self):
        return [("kernel", self.kernel)]

    def get_config(self):
        return {
            **super().get_config(),
            "units": self.units,
            "activation": keras.activations.serialize(self.activation),
        }
