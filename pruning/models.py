"""The baseline CNN, as a Sequential or a Functional model with the same layers and names.

Two builders because TFMOT treats them differently (a Sequential model is cloned layer by layer,
a Functional one through its graph); the pruning tests run on both.

Shaped for a 2-core CPU: strided convolutions instead of full-resolution convolutions and
max-pooling (an epoch of MNIST takes a quarter of the time, measured; README "Trainers"), batch
norm, and most parameters in one wide dense layer, which prunes best.
"""

from __future__ import annotations

import tf_keras as keras

from pruning.layers import ScaledDense
from pruning.params import ModelParams

IMAGE_SHAPE = (28, 28)
NUM_CLASSES = 10


def _layers(width: int, dense_units: int, dropout: float) -> list[keras.layers.Layer]:
    """Three conv-BN-ReLU blocks, ScaledDense, classifier; layer names are the pruning API's."""

    def conv(filters: int, size: int, strides: int, padding: str, name: str):
        return [
            keras.layers.Conv2D(filters, size, strides=strides, padding=padding, use_bias=False,
                                name=name),
            keras.layers.BatchNormalization(name=f"{name}_bn"),
            keras.layers.ReLU(name=f"{name}_relu"),
        ]

    return [
        keras.layers.Reshape((*IMAGE_SHAPE, 1), name="to_channels"),
        *conv(width, 5, 2, "same", "conv1"),  # 14 x 14 x width
        *conv(2 * width, 3, 2, "same", "conv2"),  # 7 x 7 x 2 width
        # "valid", not "same": measured here, a padded 3x3 convolution at 7x7 more than doubles
        # the epoch time (41 s against 21 s), while this one adds 4 s.
        *conv(2 * width, 3, 1, "valid", "conv3"),  # 5 x 5 x 2 width
        keras.layers.Flatten(name="flatten"),
        ScaledDense(dense_units, activation="relu", name="dense1"),
        keras.layers.Dropout(dropout, name="dropout"),
        keras.layers.Dense(NUM_CLASSES, name="logits"),
    ]


def build_model(params: ModelParams | None = None) -> keras.Model:
    """The CNN on 28x28 float pixels scaled to [0, 1]; outputs 10 logits.

    Scaling stays outside the model (input pipeline, serving signature) because TFMOT cannot wrap
    a whole model that contains a `Rescaling` layer, and the TFLite contract is [0, 1] floats.
    """
    params = params or ModelParams()
    layers = _layers(params.width, params.dense_units, params.dropout)
    if params.architecture == "sequential":
        return keras.Sequential(
            [keras.Input(IMAGE_SHAPE, name="image"), *layers], name="cnn_sequential"
        )
    inputs = keras.Input(IMAGE_SHAPE, name="image")
    outputs = inputs
    for layer in layers:
        outputs = layer(outputs)
    return keras.Model(inputs, outputs, name="cnn_functional")
