"""DS-CNN, adapted from MLPerf Tiny's keyword-spotting reference model (`ds_cnn`,
github.com/mlcommons/tiny, training/keyword_spotting/keras_model.py).

A model module (`MODEL_MODULE=ds_cnn`): a strided convolution of 64 filters, then four
depthwise-separable blocks (a 3x3 depthwise convolution and a 1x1 convolution of 64 filters, each
followed by batch norm and ReLU), dropout, average pooling over the whole feature map and a dense
classifier. Adapted: the first kernel is 5x5 (the reference's 10x4 fits a spectrogram's time and
frequency axes, not an image's), logits out (the project adds the softmax), no L2 penalty.

Each depthwise convolution passes its input's channels through, so a block's channels are one
group with the 1x1 convolution before it (`pruning.structured`).
"""

from __future__ import annotations

from collections.abc import Sequence

import tf_keras as keras

L = keras.layers
FILTERS = 64
BLOCKS = 4


def build_model(input_shape: Sequence[int], num_classes: int) -> keras.Model:
    """DS-CNN on float images of `input_shape` (height, width, channels) in [0, 1]."""
    inputs = keras.Input(tuple(input_shape), name="image")
    x = L.Conv2D(FILTERS, 5, strides=2, padding="same", name="conv1")(inputs)
    x = L.BatchNormalization(name="conv1_bn")(x)
    x = L.Activation("relu", name="conv1_relu")(x)
    x = L.Dropout(0.2, name="dropout1")(x)
    for block in range(1, BLOCKS + 1):
        x = L.DepthwiseConv2D(3, padding="same", name=f"dw{block}")(x)
        x = L.BatchNormalization(name=f"dw{block}_bn")(x)
        x = L.Activation("relu", name=f"dw{block}_relu")(x)
        x = L.Conv2D(FILTERS, 1, padding="same", name=f"pw{block}")(x)
        x = L.BatchNormalization(name=f"pw{block}_bn")(x)
        x = L.Activation("relu", name=f"pw{block}_relu")(x)
    x = L.Dropout(0.4, name="dropout2")(x)
    x = L.AveragePooling2D(pool_size=tuple(x.shape[1:3]), name="pool")(x)
    x = L.Flatten(name="flatten")(x)
    outputs = L.Dense(num_classes, name="logits")(x)
    return keras.Model(inputs, outputs, name="ds_cnn")
