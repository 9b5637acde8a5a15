"""The space-to-depth form of the first strided convolution: the same outputs, a different op."""

from __future__ import annotations

import numpy as np
import pytest
import tf_keras as keras

from pruning.compression import space_to_depth, tflite
from tests.pruning.helpers import tiny_model


def _images(n: int, shape=(28, 28)) -> np.ndarray:
    return np.random.default_rng(1).random((n, *shape), dtype=np.float32)


def _reference_conv(image: np.ndarray, kernel: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """TensorFlow's stride-2 'same' convolution written out in numpy: the padding before is
    (k - 2) // 2 on an even input, the output is half the input."""
    height, width, _ = image.shape
    size = kernel.shape[0]
    before = (size - 2) // 2
    padded = np.pad(image, ((before, size), (before, size), (0, 0)))
    out = np.zeros((height // 2, width // 2, kernel.shape[-1]), np.float64)
    for i in range(height // 2):
        for j in range(width // 2):
            window = padded[2 * i:2 * i + size, 2 * j:2 * j + size, :]
            out[i, j] = np.tensordot(window, kernel, axes=([0, 1, 2], [0, 1, 2]))
    return out + bias


@pytest.mark.parametrize("size", [3, 5, 7])
def test_rewritten_convolution_gives_tensorflows_strided_outputs(size):
    rng = np.random.default_rng(size)
    inputs = keras.Input((28, 28, 3))
    conv = keras.layers.Conv2D(5, size, strides=2, padding="same")
    model = keras.Model(inputs, conv(inputs))
    kernel = rng.normal(size=(size, size, 3, 5)).astype(np.float32)
    bias = np.arange(5, dtype=np.float32)
    conv.set_weights([kernel, bias])
    images = _images(2, (28, 28, 3))

    rewritten = space_to_depth.rewrite_first_conv(model)

    assert rewritten is not model
    assert [type(layer).__name__ for layer in rewritten.layers[1:]] == ["Lambda", "Conv2D"]
    assert rewritten.layers[2].strides == (1, 1)
    assert rewritten.layers[2].kernel.shape[2] == 12  # 2x2 blocks of 3 channels
    for image, out in zip(images, rewritten(images).numpy(), strict=True):
        np.testing.assert_allclose(out, _reference_conv(image, kernel, bias), atol=1e-4)


@pytest.mark.parametrize("architecture", ["functional", "sequential"])
def test_the_cnn_keeps_its_outputs_and_its_other_layers(architecture):
    model = tiny_model(architecture)
    rewritten = space_to_depth.rewrite_first_conv(model)
    images = _images(16)
    np.testing.assert_allclose(rewritten(images, training=False).numpy(),
                               model(images, training=False).numpy(), atol=1e-5)
    # Every layer after the first convolution is the model's own.
    assert rewritten.get_layer("conv1_bn") is model.get_layer("conv1_bn")
    assert rewritten.get_layer("dense1") is model.get_layer("dense1")


def test_models_it_cannot_take_are_returned_unchanged():
    inputs = keras.Input((28, 28, 1))
    stride_one = keras.Model(inputs, keras.layers.Conv2D(4, 3, padding="same")(inputs))
    valid = keras.Model(inputs, keras.layers.Conv2D(4, 3, strides=2)(inputs))
    odd = keras.Input((27, 27, 1))
    odd_input = keras.Model(odd, keras.layers.Conv2D(4, 3, strides=2, padding="same")(odd))
    dense_first = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    for model in (stride_one, valid, odd_input, dense_first):
        assert space_to_depth.rewrite_first_conv(model) is model


def test_the_full_integer_file_runs_the_rearranged_convolution():
    from ai_edge_litert import schema_py_generated as schema

    model = tiny_model()
    images = _images(32)
    content = tflite.convert(model, "full_int8", images)
    flatbuffer = schema.Model.GetRootAs(content, 0)
    graph = flatbuffer.Subgraphs(0)
    names = {code: name for name, code in vars(schema.BuiltinOperator).items()
             if not name.startswith("_")}
    ops = []
    for o in range(graph.OperatorsLength()):
        code = flatbuffer.OperatorCodes(graph.Operators(o).OpcodeIndex())
        ops.append(names[max(code.BuiltinCode(), code.DeprecatedBuiltinCode())])
    assert ops[:3] == ["RESHAPE", "SPACE_TO_DEPTH", "CONV_2D"]
    first_kernel = graph.Tensors(graph.Operators(2).Inputs(1))
    assert tuple(first_kernel.ShapeAsNumpy()) == (8, 3, 3, 4)  # TFLite's (out, h, w, in)
    # The float file keeps the plain convolution; both give the Keras model's classes.
    float_model = tflite.TfliteModel(tflite.convert(model, "float"))
    int8_model = tflite.TfliteModel(content)
    expected = np.argmax(model(images, training=False).numpy(), axis=1)
    agree = [np.argmax(int8_model.scores(image)) == label
             for image, label in zip(images, expected, strict=True)]
    assert all(np.argmax(float_model.scores(image)) == label
               for image, label in zip(images, expected, strict=True))
    assert np.mean(agree) >= 0.9  # int8 rounding may flip a near tie
