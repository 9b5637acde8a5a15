"""The user's model: model modules, trained files, what fits the data, outputs, MACs."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
import tf_keras as keras

from pruning import structured
from pruning.model import cnn, ds_cnn, macs, modules, outputs, resnet8

L = keras.layers


@pytest.mark.parametrize("name", list(modules.SHIPPED))
def test_each_shipped_module_builds_from_its_travelling_source(name):
    source = modules.read_source(name)
    assert source.name == modules.SHIPPED[name]
    again = modules.ModuleSource.from_dict(source.to_dict())
    assert again.sha256 == hashlib.sha256(source.source.encode()).hexdigest()
    model = modules.build(again, (28, 28, 1), 10)
    modules.check_fits(model, (28, 28, 1), 10, name)
    assert model.output_shape == (None, 10)


def test_a_changed_source_is_refused_by_its_hash():
    values = modules.read_source("resnet8").to_dict()
    values["source"] += "\n# changed"
    with pytest.raises(modules.ModelModuleError, match="does not match the SHA-256"):
        modules.ModuleSource.from_dict(values)


@pytest.mark.parametrize(("reference", "message"), [
    ("no/such/file.py", "no such file 'no/such/file.py'"),
    ("no_such_module_anywhere", "cannot import 'no_such_module_anywhere'"),
])
def test_a_module_that_is_not_there_is_named(reference, message):
    with pytest.raises(modules.ModelModuleError, match=message):
        modules.read_source(reference)


def test_a_build_model_that_returns_keras_3_or_fails_is_named(tmp_path):
    path = tmp_path / "broken.py"
    path.write_text("def build_model(input_shape, num_classes):\n    return object()\n")
    with pytest.raises(modules.ModelModuleError, match=r"returned builtins\.object, not a "
                                                       r"tf_keras\.Model"):
        modules.build(modules.read_source(str(path)), (28, 28, 1), 10)
    path.write_text("def build_model(input_shape, num_classes):\n    raise KeyError('x')\n")
    with pytest.raises(modules.ModelModuleError, match=r"build_model of model module .* failed: "
                                                       r"KeyError"):
        modules.build(modules.read_source(str(path)), (28, 28, 1), 10)


@pytest.mark.parametrize(("shape", "fits"), [((28, 28), True), ((28, 28, 1), True),
                                             ((784,), True), ((32, 32, 3), False)])
def test_a_model_takes_the_images_values_in_any_layout(shape, fits):
    inputs = keras.Input(shape)
    model = keras.Model(inputs, L.Dense(10)(L.Flatten()(inputs)))
    if fits:
        modules.check_fits(model, (28, 28, 1), 10, "m")
    else:
        with pytest.raises(modules.ModelModuleError, match=r"takes inputs of shape \(32, 32, 3\)"
                                                           r", which does not hold the data's "
                                                           r"28x28x1 images"):
            modules.check_fits(model, (28, 28, 1), 10, "m")


def test_a_trained_file_loads_and_a_non_model_is_named(tmp_path):
    model = cnn.build_model()
    model.save(tmp_path / "m.keras")
    loaded = modules.load_trained(str(tmp_path / "m.keras"))
    for a, b in zip(loaded.get_weights(), model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    (tmp_path / "notes.keras").write_text("text")
    with pytest.raises(modules.ModelModuleError, match="is not a Keras model"):
        modules.load_trained(str(tmp_path / "notes.keras"))
    with pytest.raises(modules.ModelModuleError, match="no such file or directory"):
        modules.load_trained(str(tmp_path / "none.keras"))


def test_a_trained_file_loads_from_a_non_local_uri(tmp_path):
    import tensorflow as tf

    model = cnn.build_model()
    model.save(tmp_path / "m.keras")
    uri = f"ram://{tmp_path.name}/m.keras"
    tf.io.gfile.makedirs(uri.rsplit("/", 1)[0])
    tf.io.gfile.copy(str(tmp_path / "m.keras"), uri)
    loaded = modules.load_trained(uri)
    np.testing.assert_array_equal(loaded.get_weights()[0], model.get_weights()[0])


@pytest.mark.parametrize(("last", "expected"), [
    (lambda: L.Dense(10), False), (lambda: L.Dense(10, activation="softmax"), True),
    (lambda: keras.Sequential([L.Dense(10), L.Softmax()]), True)])
def test_outputs_are_read_as_logits_or_probabilities(last, expected):
    inputs = keras.Input((4,))
    model = keras.Model(inputs, last()(inputs))
    assert outputs.gives_probabilities(model) is expected
    scores = outputs.probabilities(model, model(np.ones((2, 4), np.float32)))
    np.testing.assert_allclose(np.sum(scores, axis=1), [1, 1], rtol=1e-5)


def test_macs_are_kernel_weights_times_output_positions():
    inputs = keras.Input((8, 8, 3))
    x = L.Conv2D(4, 3, strides=2, padding="same")(inputs)  # 4x4 positions, 3*3*3*4 weights
    x = L.DepthwiseConv2D(3, padding="same", depth_multiplier=2)(x)  # 4x4, 3*3*4*2
    x = L.Dense(5)(L.Flatten()(x))  # one position, 128*5
    model = keras.Model(inputs, x)
    assert macs.count_macs(model) == 16 * 108 + 16 * 72 + 640


@pytest.mark.parametrize("builder", [resnet8.build_model, ds_cnn.build_model])
def test_half_of_every_group_removes_over_half_the_macs(builder):
    model = builder((28, 28, 1), 10)
    narrowed = structured.narrow(model, 0.5).model
    assert macs.count_macs(narrowed) < 0.5 * macs.count_macs(model)
