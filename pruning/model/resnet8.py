"""ResNet-8, adapted from MLPerf Tiny's image-classification reference model (EEMBC's
`resnet_v1_eembc`, github.com/mlcommons/tiny, training/image_classification/keras_model.py).

A model module (`MODEL_MODULE=resnet8`): three stacks of two 3x3 convolutions with 16, 32 and 64
filters, each stack's input added to its output (an identity in the first stack, a strided 1x1
projection in the next two), then average pooling over what is left of the image and a dense
classifier. As in the reference: He-normal initialization, batch norm after every 3x3
convolution. Adapted: any input size (the pooling covers the last feature map), logits out (the
project adds the softmax), no L2 penalty (the project's warm-up and cosine schedule instead).

The residual additions couple channels: the stem's filters and each stack's second
convolution's are one group (`pruning.structured`), as are a projection's and its stack's.
"""

from __future__ import annotations

from collections.abc import Sequence

import tf_keras as keras

L = keras.layers
FILTERS = (16, 32, 64)


def _conv(filters: int, size: int, strides: int, name: str) -> L.Conv2D:
    return L.Conv2D(filters, size, strides=strides, padding="same",
                    kernel_initializer="he_normal", name=name)


def _stack(x, filters: int, strides: int, index: int):
    name = f"stack{index}"
    y = _conv(filters, 3, strides, f"{name}_conv1")(x)
    y = L.BatchNormalization(name=f"{name}_bn1")(y)
    y = L.Activation("relu", name=f"{name}_relu1")(y)
    y = _conv(filters, 3, 1, f"{name}_conv2")(y)
    y = L.BatchNormalization(name=f"{name}_bn2")(y)
    if strides != 1:
        x = _conv(filters, 1, strides, f"{name}_projection")(x)
    x = L.Add(name=f"{name}_add")([x, y])
    return L.Activation("relu", name=f"{name}_relu2")(x)


def build_model(input_shape: Sequence[int], num_classes: int) -> keras.Model:
    """ResNet-8 on float images of `input_shape` (height, width, channels) in [0, 1]."""
    inputs = keras.Input(tuple(input_shape), name="image")
    x = _conv(FILTERS[0], 3, 1, "stem_conv")(inputs)
    x = L.BatchNormalization(name="stem_bn")(x)
    x = L.Activation("relu", name="stem_relu")(x)
    for index, filters in enumerate(FILTERS, start=1):
        x = _stack(x, filters, 1 if index == 1 else 2, index)
    x = L.AveragePooling2D(pool_size=tuple(x.shape[1:3]), name="pool")(x)
    x = L.Flatten(name="flatten")(x)
    outputs = L.Dense(num_classes, kernel_initializer="he_normal", name="logits")(x)
    return keras.Model(inputs, outputs, name="resnet8")
