"""The baseline CNN in Keras, as a Sequential or a Functional model with the same layers and names.

Two builders because TFMOT treats them differently (a Sequential model is cloned layer by layer,
a Functional one through its graph); the pruning tests run on both. The layers come from
`pruning.architecture`, the same table the pruning options are checked against: batch norm after
each strided convolution, and most parameters in one wide dense layer, which prunes best.
"""

from __future__ import annotations

import tf_keras as keras

from pruning import architecture
from pruning.model.layers import ScaledDense
from pruning.params import ModelParams

DROPOUT = "dropout"


def _layers(params: ModelParams) -> list[keras.layers.Layer]:
    """Three conv-BN-ReLU blocks, ScaledDense, classifier; layer names are the pruning API's."""
    layers = [keras.layers.Reshape((*architecture.IMAGE_SHAPE, 1), name="to_channels")]
    for block in architecture.conv_blocks(params):
        layers += [
            keras.layers.Conv2D(block.filters, block.size, strides=block.strides,
                                padding=block.padding, use_bias=False, name=block.name),
            keras.layers.BatchNormalization(name=f"{block.name}_bn"),
            keras.layers.ReLU(name=f"{block.name}_relu"),
        ]
    dense1, logits = architecture.dense_layers(params)
    return [
        *layers,
        keras.layers.Flatten(name="flatten"),
        ScaledDense(dense1.kernel_shape[1], activation="relu", name=dense1.name),
        keras.layers.Dropout(params.dropout, name=DROPOUT),
        keras.layers.Dense(logits.kernel_shape[1], name=logits.name),
    ]


def build_model(params: ModelParams | None = None) -> keras.Model:
    """The CNN on 28x28 float pixels scaled to [0, 1]; outputs 10 logits.

    Scaling stays outside the model (input pipeline, serving signature) because TFMOT cannot wrap
    a whole model that contains a `Rescaling` layer, and the TFLite contract is [0, 1] floats.
    """
    params = params or ModelParams()
    layers = _layers(params)
    name = architecture.model_name(params)
    inputs = keras.Input(architecture.IMAGE_SHAPE, name="image")
    if params.keras_api == "sequential":
        return keras.Sequential([inputs, *layers], name=name)
    outputs = inputs
    for layer in layers:
        outputs = layer(outputs)
    return keras.Model(inputs, outputs, name=name)


def model_params(model: keras.Model) -> ModelParams:
    """The shape of a model `build_model` made (e.g. one loaded from a Keras file)."""
    defaults = ModelParams()
    convs = tuple(int(model.get_layer(block.name).filters)
                  for block in architecture.conv_blocks(defaults))
    dense1 = architecture.dense_layers(defaults)[0].name
    width = convs[0]
    return ModelParams(
        keras_api="sequential" if isinstance(model, keras.Sequential) else "functional",
        width=width,
        dense_units=int(model.get_layer(dense1).units),
        dropout=float(model.get_layer(DROPOUT).rate),
        filters=None if convs == (width, 2 * width, 2 * width) else convs,
    )
