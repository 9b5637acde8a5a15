"""The space-to-depth forms of the first strided convolutions: the same outputs, other ops."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras

from pruning.compression import space_to_depth, tflite
from pruning.model import cnn
from pruning.params import ModelParams
from tests.pruning.helpers import tflite_ops, tiny_model


def _images(n: int, shape=(28, 28)) -> np.ndarray:
    return np.random.default_rng(1).random((n, *shape), dtype=np.float32)


def _reference_conv(image: np.ndarray, kernel: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """TensorFlow's stride-2 'same' convolution written out in numpy: the padding before is
    (k - 2) // 2 on an even input, the output is half the input."""
    height, width, _ = image.shape
    size = kernel.shape[0]
    before = max(size - 2, 0) // 2
    padded = np.pad(image, ((before, size), (before, size), (0, 0)))
    out = np.zeros((height // 2, width // 2, kernel.shape[-1]), np.float64)
    for i in range(height // 2):
        for j in range(width // 2):
            window = padded[2 * i:2 * i + size, 2 * j:2 * j + size, :]
            out[i, j] = np.tensordot(window, kernel, axes=([0, 1, 2], [0, 1, 2]))
    return out + bias


@pytest.mark.parametrize("size", [1, 3, 5, 7])
def test_the_2x2_form_gives_tensorflows_strided_outputs(size):
    rng = np.random.default_rng(size)
    inputs = keras.Input((28, 28, 3))
    conv = keras.layers.Conv2D(5, size, strides=2, padding="same")
    model = keras.Model(inputs, conv(inputs))
    kernel = rng.normal(size=(size, size, 3, 5)).astype(np.float32)
    bias = np.arange(5, dtype=np.float32)
    conv.set_weights([kernel, bias])
    images = _images(2, (28, 28, 3))

    rewritten = space_to_depth.rewrite_strided_convs(model)

    assert rewritten is not model
    assert [type(layer).__name__ for layer in rewritten.layers[1:]] == ["Lambda", "Conv2D"]
    assert rewritten.layers[2].strides == (1, 1)
    assert rewritten.layers[2].kernel.shape[2] == 12  # 2x2 blocks of 3 channels
    for image, out in zip(images, rewritten(images).numpy(), strict=True):
        np.testing.assert_allclose(out, _reference_conv(image, kernel, bias), atol=1e-4)
    np.testing.assert_allclose(rewritten(images).numpy(), model(images).numpy(), atol=1e-4)


@pytest.mark.parametrize("size", [1, 3, 5, 7])
@pytest.mark.parametrize("channels", [1, 3])
def test_the_4x4_kernel_gives_the_strided_outputs_in_space_to_depth_form(size, channels):
    rng = np.random.default_rng(size * channels)
    kernel = rng.normal(size=(size, size, channels, 5)).astype(np.float32)
    image = _images(1, (28, 28, channels))

    rearranged = space_to_depth.rearranged_kernel(kernel, phases=2)

    assert rearranged.shape[2:] == (16 * channels, 4 * 5)
    phased = tf.nn.conv2d(tf.nn.space_to_depth(image, 4), rearranged, 1, "SAME")
    assert phased.shape == (1, 7, 7, 20)
    np.testing.assert_allclose(tf.nn.depth_to_space(phased, 2).numpy()[0],
                               _reference_conv(image[0], kernel, np.zeros(5)), atol=1e-4)
    # and TensorFlow's own strided convolution, rearranged
    np.testing.assert_allclose(phased.numpy(), tf.nn.space_to_depth(
        tf.nn.conv2d(image, kernel, 2, "SAME"), 2).numpy(), atol=1e-4)


@pytest.mark.parametrize("keras_api", ["functional", "sequential"])
def test_a_narrow_cnn_gets_the_4x4_form_and_keeps_its_outputs(keras_api):
    model = tiny_model(keras_api)  # conv1 8 filters, conv2 16
    _randomize_batch_norms(model)
    rewritten = space_to_depth.rewrite_strided_convs(model)
    images = _images(16)
    np.testing.assert_allclose(rewritten(images, training=False).numpy(),
                               model(images, training=False).numpy(), atol=1e-5)
    assert rewritten.get_layer("space_to_depth").output_shape == (None, 7, 7, 16)
    assert rewritten.get_layer("conv1_space_to_depth").kernel.shape == (3, 3, 16, 32)
    assert rewritten.get_layer("conv1_bn_space_to_depth").gamma.shape == (32,)
    assert rewritten.get_layer("conv2_space_to_depth").kernel.shape == (2, 2, 32, 16)
    assert rewritten.get_layer("conv2_space_to_depth").output_shape == (None, 7, 7, 16)
    _assert_copies(rewritten, model, ["conv2_bn", "conv3", "dense1", "logits"])
    # The model itself is untouched: rewriting it again gives the same form.
    again = space_to_depth.rewrite_strided_convs(model)
    assert again.get_layer("conv2_space_to_depth").kernel.shape == (2, 2, 32, 16)


@pytest.mark.parametrize("width, phased", [(28, True), (30, False)])
def test_biases_own_activations_and_batch_norm_options_keep_their_outputs(width, phased):
    """The 4x4 form needs whole 4x4 blocks: a 28x30 input keeps the 2x2 form alone."""
    keras.utils.set_random_seed(3)
    inputs = keras.Input((28, width, 2))
    outputs = keras.layers.Conv2D(6, 5, strides=2, padding="same", activation="relu",
                                  bias_initializer="random_normal", name="first")(inputs)
    outputs = keras.layers.BatchNormalization(center=False, name="norm")(outputs)
    outputs = keras.layers.ReLU(max_value=1.5)(outputs)
    outputs = keras.layers.Conv2D(5, 3, strides=2, padding="same", activation="relu",
                                  bias_initializer="random_normal", name="second")(outputs)
    model = keras.Model(inputs, outputs)
    _randomize_batch_norms(model)
    images = _images(4, (28, width, 2))

    rewritten = space_to_depth.rewrite_strided_convs(model)

    np.testing.assert_allclose(rewritten(images, training=False).numpy(),
                               model(images, training=False).numpy(), atol=1e-5)
    first = rewritten.get_layer("first_space_to_depth")
    assert first.kernel.shape == ((3, 3, 32, 24) if phased else (3, 3, 8, 6))
    assert ("second_space_to_depth" in [layer.name for layer in rewritten.layers]) == phased


def test_a_model_whose_layers_other_graphs_share_is_rewritten_too():
    """Like `prune_model`'s model: its layers were also called in the graphs it was pruned in."""
    model = tiny_model()
    _randomize_batch_norms(model)
    other = keras.Input((28, 28))
    outputs = other
    for layer in model.layers[1:]:
        outputs = layer(outputs)  # every layer gains a second inbound node
    images = _images(8)

    rewritten = space_to_depth.rewrite_strided_convs(model)

    assert rewritten.get_layer("conv2_space_to_depth").kernel.shape == (2, 2, 32, 16)
    np.testing.assert_allclose(rewritten(images, training=False).numpy(),
                               model(images, training=False).numpy(), atol=1e-5)


@pytest.mark.parametrize("filters, max_phased_filters", [(16, 8), (8, 0)])
def test_a_wide_first_convolution_gets_the_2x2_form_alone(filters, max_phased_filters):
    keras.utils.set_random_seed(0)
    model = cnn.build_model(params=ModelParams(width=filters, dense_units=16, dropout=0.0))
    _randomize_batch_norms(model)
    rewritten = space_to_depth.rewrite_strided_convs(model, max_phased_filters)
    images = _images(16)
    np.testing.assert_allclose(rewritten(images, training=False).numpy(),
                               model(images, training=False).numpy(), atol=1e-5)
    assert rewritten.get_layer("conv1_space_to_depth").kernel.shape == (3, 3, 4, filters)
    _assert_copies(rewritten, model, ["conv1_bn", "conv2", "dense1"])


def _assert_copies(rewritten: keras.Model, model: keras.Model, names: list[str]) -> None:
    """Each named layer of `rewritten` is a copy of the model's, with equal weights."""
    for name in names:
        copy, own = rewritten.get_layer(name), model.get_layer(name)
        assert copy is not own and type(copy) is type(own)
        for left, right in zip(copy.get_weights(), own.get_weights(), strict=True):
            np.testing.assert_array_equal(left, right)


def _randomize_batch_norms(model: keras.Model) -> None:
    """Per-channel statistics that differ, so a channel read in the wrong place shows."""
    rng = np.random.default_rng(2)
    draw = {"gamma": lambda n: rng.uniform(0.5, 2, n), "beta": lambda n: rng.normal(size=n),
            "moving_mean": lambda n: rng.normal(size=n) * 0.1,
            "moving_variance": lambda n: rng.uniform(0.5, 2, n)}
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            for weight in layer.weights:  # gamma and beta only when scale and center are on
                kind = weight.name.split("/")[-1].split(":")[0]
                weight.assign(draw[kind](weight.shape).astype(np.float32))


def test_models_it_cannot_take_are_returned_unchanged():
    inputs = keras.Input((28, 28, 1))
    stride_one = keras.Model(inputs, keras.layers.Conv2D(4, 3, padding="same")(inputs))
    valid = keras.Model(inputs, keras.layers.Conv2D(4, 3, strides=2)(inputs))
    odd = keras.Input((27, 27, 1))
    odd_input = keras.Model(odd, keras.layers.Conv2D(4, 3, strides=2, padding="same")(odd))
    dense_first = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    for model in (stride_one, valid, odd_input, dense_first):
        assert space_to_depth.rewrite_strided_convs(model) is model


@pytest.mark.parametrize("between, activation", [
    (keras.layers.MaxPool2D(1), None),  # not a per-channel layer
    (keras.layers.Activation("softmax"), None),  # mixes the channels of a position
    (None, "softmax"),  # the first convolution's own activation mixes them
])
def test_a_second_convolution_after_other_layers_keeps_its_form(between, activation):
    inputs = keras.Input((28, 28, 1))
    outputs = keras.layers.Conv2D(4, 3, strides=2, padding="same", activation=activation)(inputs)
    if between is not None:
        outputs = between(outputs)
    second = keras.layers.Conv2D(4, 3, strides=2, padding="same", name="second")(outputs)
    model = keras.Model(inputs, second)
    rewritten = space_to_depth.rewrite_strided_convs(model)
    assert rewritten.get_layer("second").strides == (2, 2)
    assert rewritten.get_layer("second").kernel.shape == (3, 3, 4, 4)
    images = _images(4, (28, 28, 1))
    np.testing.assert_allclose(rewritten(images).numpy(), model(images).numpy(), atol=1e-5)


def test_the_full_integer_file_runs_the_4x4_form_with_the_2x2_forms_outputs():
    model = tiny_model()
    _randomize_batch_norms(model)
    images = _images(32)
    content = tflite.convert(model, "int8", images)
    two_by_two = tflite.convert(space_to_depth.rewrite_strided_convs(model, 0), "int8",
                                images)

    ops = tflite_ops(content)
    assert [name for name, _ in ops[:4]] == ["RESHAPE", "SPACE_TO_DEPTH", "CONV_2D", "CONV_2D"]
    assert ops[2][1] == (32, 3, 3, 16)  # TFLite's (out, h, w, in): 4 groups of 8 filters
    assert ops[3][1] == (16, 2, 2, 32)
    assert tflite_ops(two_by_two)[1:4] == [("SPACE_TO_DEPTH", ()), ("CONV_2D", (8, 3, 3, 4)),
                                      ("CONV_2D", (16, 3, 3, 8))]
    phased, plain = tflite.TfliteModel(content), tflite.TfliteModel(two_by_two)
    step = phased._output["quantization"][0]  # calibration may round a range's last bit apart
    for image in images:
        np.testing.assert_allclose(phased.scores(image), plain.scores(image), atol=step * 1.01)
    # The float file keeps the plain convolutions; both give the Keras model's classes.
    float_file = tflite.convert(model, "float")
    float_model = tflite.TfliteModel(float_file)
    assert [name for name, _ in tflite_ops(float_file)[:2]] == ["RESHAPE", "CONV_2D"]
    expected = np.argmax(model(images, training=False).numpy(), axis=1)
    agree = [np.argmax(phased.scores(image)) == label
             for image, label in zip(images, expected, strict=True)]
    assert all(np.argmax(float_model.scores(image)) == label
               for image, label in zip(images, expected, strict=True))
    assert np.mean(agree) >= 0.9  # int8 rounding may flip a near tie
