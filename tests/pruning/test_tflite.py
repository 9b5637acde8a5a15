"""TFLite conversion of the (pruned) model, run with LiteRT: sizes, accuracy, surviving zeros."""

from __future__ import annotations

import numpy as np
import pytest

from pruning import apply, sparsity, tflite, train
from tests.pruning.helpers import (
    ALL_PRUNABLE,
    EPOCHS,
    STEPS_PER_EPOCH,
    params,
    tiny_data,
    tiny_model,
)


def images_and_labels(n: int = 20) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(3)
    return rng.random((n, 28, 28), dtype=np.float32), rng.integers(0, 10, n)


@pytest.fixture(scope="module")
def pruned_model():
    """The tiny model pruned to 80 % everywhere, stripped."""
    import tf_keras as keras

    model = apply.apply_pruning(tiny_model(), params())
    model.compile(keras.optimizers.Adam(1e-3),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    train.fit_with_pruning(model, tiny_data(), epochs=EPOCHS, steps_per_epoch=STEPS_PER_EPOCH)
    return apply.strip_pruning(model)


@pytest.fixture(scope="module")
def files(pruned_model) -> dict[str, bytes]:
    images, _ = images_and_labels()
    return {mode: tflite.convert(pruned_model, mode, images) for mode in tflite.MODES}


def test_float_file_gives_the_keras_models_probabilities(pruned_model, files):
    images, _ = images_and_labels(5)
    model = tflite.TfliteModel(files["float"])
    expected = np.exp(pruned_model(images, training=False).numpy())
    expected /= expected.sum(axis=1, keepdims=True)
    for image, probabilities in zip(images, expected, strict=True):
        np.testing.assert_allclose(model.scores(image), probabilities, atol=1e-5)


@pytest.mark.parametrize("mode", tflite.MODES)
def test_every_mode_evaluates_like_a_direct_interpreter_run(files, mode):
    images, labels = images_and_labels()
    model = tflite.TfliteModel(files[mode])
    metrics = model.evaluate(images, labels)
    direct = [int(np.argmax(model.scores(image))) for image in images]
    assert metrics.accuracy == np.mean(np.array(direct) == labels)
    assert metrics.num_examples == len(images) and metrics.loss > 0


def test_full_integer_file_takes_int8_and_quantized_files_are_smaller(files):
    assert tflite.TfliteModel(files["full_int8"]).input_dtype == np.int8
    assert tflite.TfliteModel(files["float"]).input_dtype == np.float32
    assert len(files["dynamic_int8"]) < len(files["float"])
    assert len(files["full_int8"]) < len(files["float"])


@pytest.mark.parametrize("mode", tflite.MODES)
def test_prunings_zeros_survive_conversion(pruned_model, files, mode):
    keras_zeros = sum(x.zeros for x in sparsity.measure_sparsity(pruned_model,
                                                                  ALL_PRUNABLE).layers)
    zeros, total = tflite.weight_zeros(files[mode])
    assert total > 0
    assert zeros >= keras_zeros  # quantization can only add zeros (tiny weights round to 0)
    assert zeros / total > 0.75


def test_sparse_file_compresses_better_than_a_dense_one(files):
    dense = tflite.convert(tiny_model(), "float")
    assert tflite.gzip_size(files["float"]) < 0.6 * tflite.gzip_size(dense)


@pytest.mark.parametrize(
    ("mode", "images", "message"),
    [("int4", None, "Unknown TFLite mode 'int4'"), ("full_int8", None, "needs representative")],
)
def test_bad_conversion_requests_are_refused(mode, images, message):
    with pytest.raises(ValueError, match=message):
        tflite.convert(tiny_model(), mode, images)
