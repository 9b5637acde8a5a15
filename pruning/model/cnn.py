"""The project's CNN in Keras, as a Sequential or a Functional model with the same layers and names.

The default model module (`MODEL_MODULE`): `build_model(input_shape, num_classes)` as every model
module defines it, plus the CNN's own shape (`params`: width, units, dropout, Keras API). Two
builders because TFMOT treats them differently (a Sequential model is cloned layer by layer, a
Functional one through its graph); the pruning tests run on both. The layers come from
`pruning.architecture`, the table the pipeline checks the pruning options against before
TensorFlow is imported: batch norm after each strided convolution, and most parameters in one
wide dense layer, which prunes best.
"""

from __future__ import annotations

from collections.abc import Sequence

import tf_keras as keras

from pruning import architecture
from pruning.image_data import IMAGE_SHAPE, NUM_CLASSES
from pruning.model.layers import ScaledDense
from pruning.params import ModelParams

DROPOUT = "dropout"


def _layers(params: ModelParams, input_shape: Sequence[int],
            num_classes: int) -> list[keras.layers.Layer]:
    """Three conv-BN-ReLU blocks, ScaledDense, classifier; layer names are the pruning API's."""
    layers = [keras.layers.Reshape(tuple(input_shape), name="to_channels")]
    for block in architecture.conv_blocks(params):
        layers += [
            keras.layers.Conv2D(block.filters, block.size, strides=block.strides,
                                padding=block.padding, use_bias=False, name=block.name),
            keras.layers.BatchNormalization(name=f"{block.name}_bn"),
            keras.layers.ReLU(name=f"{block.name}_relu"),
        ]
    dense1, logits = architecture.dense_layers(params, input_shape, num_classes)
    return [
        *layers,
        keras.layers.Flatten(name="flatten"),
        ScaledDense(dense1.kernel_shape[1], activation="relu", name=dense1.name),
        keras.layers.Dropout(params.dropout, name=DROPOUT),
        keras.layers.Dense(logits.kernel_shape[1], name=logits.name),
    ]


def build_model(input_shape: Sequence[int] = IMAGE_SHAPE, num_classes: int = NUM_CLASSES,
                params: ModelParams | None = None) -> keras.Model:
    """The CNN on float pixels scaled to [0, 1] of `input_shape` (height, width, channels); a
    one-channel image is taken as (height, width). Outputs `num_classes` logits.

    Scaling stays outside the model (input pipeline, serving signature) because TFMOT cannot wrap
    a whole model that contains a `Rescaling` layer, and the TFLite contract is [0, 1] floats.
    """
    params = params or ModelParams()
    input_shape = tuple(input_shape)
    layers = _layers(params, input_shape, num_classes)
    name = architecture.model_name(params)
    inputs = keras.Input(input_shape[:2] if input_shape[2] == 1 else input_shape, name="image")
    if params.keras_api == "sequential":
        return keras.Sequential([inputs, *layers], name=name)
    outputs = inputs
    for layer in layers:
        outputs = layer(outputs)
    return keras.Model(inputs, outputs, name=name)
