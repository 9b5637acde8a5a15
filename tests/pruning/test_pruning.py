"""The pruning library on tiny synthetic data: every scope, Keras API and training loop."""

from __future__ import annotations

import numpy as np
import pytest
import tf_keras as keras

from pruning.params import InvalidParam, PruningParams
from pruning.sparsity import loops, measure, wrap
from tests.pruning.helpers import (
    ALL_PRUNABLE,
    EPOCHS,
    STEPS_PER_EPOCH,
    params,
    tiny_data,
    tiny_model,
)


def prune_and_train(model: keras.Model, pruning: PruningParams, loop: str) -> keras.Model:
    pruned = wrap.apply_pruning(model, pruning)
    optimizer = keras.optimizers.Adam(1e-3)
    data = tiny_data()
    if loop == "fit":
        pruned.compile(optimizer, keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        loops.fit_with_pruning(pruned, data, epochs=EPOCHS, steps_per_epoch=STEPS_PER_EPOCH)
    else:
        loops.train_custom_loop(pruned, optimizer, data, epochs=EPOCHS,
                                steps_per_epoch=STEPS_PER_EPOCH)
    return wrap.strip_pruning(pruned)


@pytest.mark.parametrize("keras_api", ["functional", "sequential"])
@pytest.mark.parametrize("loop", ["fit", "custom"])
def test_whole_model_reaches_target_sparsity(keras_api, loop):
    stripped = prune_and_train(tiny_model(keras_api), params(), loop)

    report = measure.measure_sparsity(stripped, ALL_PRUNABLE)
    assert report.overall == pytest.approx(0.8, abs=0.01)
    for layer in report.layers:  # the custom ScaledDense (dense1) included
        assert layer.sparsity == pytest.approx(0.8, abs=0.02), layer
    assert not any("prune_low_magnitude" in layer.name for layer in stripped.layers)


@pytest.mark.parametrize(
    ("selection", "pruned"),
    [
        ({"layer_names": ("conv2", "dense1")}, {"conv2", "dense1"}),
        ({"layer_types": ("ScaledDense",)}, {"dense1"}),
        ({"layer_types": ("Dense",), "layer_names": ("conv1",)}, {"conv1", "logits"}),
    ],
)
def test_selected_layers_are_pruned_and_the_rest_stay_dense(selection, pruned):
    stripped = prune_and_train(tiny_model(), params(**selection), "fit")

    report = measure.measure_sparsity(stripped, ALL_PRUNABLE)
    for layer in report.layers:
        if layer.layer in pruned:
            assert layer.sparsity == pytest.approx(0.8, abs=0.02), layer
        else:
            assert layer.zeros == 0, layer


def test_layer_sparsity_overrides_the_target_per_layer():
    pruning = params(layer_sparsity=(("dense1", 0.9), ("conv1", 0.3)))
    model = tiny_model()
    # The overall target, weighted by each kernel's size as the built model has it.
    targets = {name: 0.8 for name in ALL_PRUNABLE} | {"dense1": 0.9, "conv1": 0.3}
    sizes = {name: int(np.prod(model.get_layer(name).kernel.shape)) for name in ALL_PRUNABLE}
    expected = sum(targets[n] * sizes[n] for n in sizes) / sum(sizes.values())
    stripped = prune_and_train(model, pruning, "fit")

    report = {x.layer: x.sparsity for x in measure.measure_sparsity(stripped, ALL_PRUNABLE).layers}
    assert report["dense1"] == pytest.approx(0.9, abs=0.01)
    assert report["conv1"] == pytest.approx(0.3, abs=0.02)
    assert report["conv2"] == pytest.approx(0.8, abs=0.02)
    overall = measure.measure_sparsity(stripped, ALL_PRUNABLE).overall
    assert overall == pytest.approx(expected, abs=0.01)
    assert expected > 0.8  # dense1 holds most of the weights


def test_two_of_four_gives_exactly_two_zeros_per_block_of_input_channels():
    layers = ("conv2", "conv3", "dense1", "logits")  # conv1 has 1 input channel
    stripped = prune_and_train(
        tiny_model(), params(sparsity_m_by_n=(2, 4), layer_names=layers), "fit"
    )

    for name in layers:
        kernel = stripped.get_layer(name).kernel.numpy()
        zeros = measure.zeros_per_m_by_n_block(kernel, 4)
        assert zeros.size == kernel.size // 4
        assert set(zeros.tolist()) == {2}, name
    assert stripped.get_layer("conv1").kernel.numpy().all()


def test_block_pruning_zeros_whole_blocks():
    stripped = prune_and_train(
        tiny_model(), params(block_size=(4, 2), layer_names=("dense1",)), "fit"
    )

    kernel = stripped.get_layer("dense1").kernel.numpy()  # (784, 16)
    rows, cols = kernel.shape
    blocks = kernel.reshape(rows // 4, 4, cols // 2, 2).transpose(0, 2, 1, 3).reshape(-1, 8)
    zero_counts = np.sum(blocks == 0, axis=1)
    assert set(zero_counts.tolist()) <= {0, 8}
    assert np.mean(zero_counts == 8) == pytest.approx(0.8, abs=0.02)


def test_pruning_starts_from_the_trained_weights():
    model = tiny_model()
    images = np.random.default_rng(1).random((4, 28, 28), dtype=np.float32)
    expected = model(images, training=False).numpy()

    pruned = wrap.apply_pruning(model, params(initial_sparsity=0.0, layer_names=("dense1",)))
    np.testing.assert_allclose(pruned(images, training=False).numpy(), expected, rtol=1e-5)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"final_sparsity": 1.0}, r"final_sparsity must be in \[0, 1\), got 1.0"),
        ({"initial_sparsity": -0.1}, r"initial_sparsity must be in \[0, 1\), got -0.1"),
        ({"begin_step": 10, "end_step": 10}, r"end_step must be > begin_step \(10\), got 10"),
        ({"initial_sparsity": 0.9, "final_sparsity": 0.5},
         r"initial_sparsity must not exceed final_sparsity \(0.5\), got 0.9"),
        ({"frequency": 0}, "frequency must be >= 1, got 0"),
        ({"schedule": "cubic"}, "schedule must be one of polynomial_decay, constant, got 'cubic'"),
        ({"sparsity_m_by_n": (4, 4)}, "sparsity_m_by_n needs 1 <= m < n, got '4:4'"),
        ({"sparsity_m_by_n": (2, 4), "block_size": (2, 2)},
         r"sparsity_m_by_n excludes block_size \(2, 2\), got '2:4'"),
        ({"block_size": (0, 1)}, r"block_size must be two integers >= 1, got \(0, 1\)"),
        ({"layer_types": ("LSTM",)}, "layer_types must name prunable layer types: Conv2D, "
         "Dense, ScaledDense, got 'LSTM'"),
        ({"layer_sparsity": (("dense1", 1.2),)},
         r"layer_sparsity needs each sparsity in \[0, 1\), got 'dense1:1.2'"),
    ],
)
def test_invalid_parameters_name_the_bad_value(kwargs, message):
    with pytest.raises(InvalidParam, match=message) as raised:
        params(**kwargs)
    assert raised.value.param == message.split()[0]  # the parameter the message names


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"layer_names": ("conv9",)}, "layer_names must name prunable layers of model "
         "'cnn_functional': conv1, conv2, conv3, dense1, logits, got 'conv9'"),
        ({"sparsity_m_by_n": (2, 4)}, "input channels of layer 'conv1'.*it has 1"),
        ({"block_size": (3, 3), "layer_names": ("dense1",)},
         r"block_size must divide the kernel \(400, 16\) of layer 'dense1', got '3x3'"),
        ({"layer_sparsity": (("dense9", 0.5),)},
         "layer_sparsity must name prunable layers of model 'cnn_functional'.*got 'dense9'"),
    ],
)
def test_parameters_that_do_not_fit_the_model_are_named(kwargs, message):
    with pytest.raises(InvalidParam, match=message):
        wrap.select_layers(tiny_model(), params(**kwargs))


def test_constant_schedule_reaches_its_sparsity():
    pruning = params(schedule="constant", final_sparsity=0.6, layer_names=("dense1",))
    stripped = prune_and_train(tiny_model(), pruning, "custom")
    report = measure.measure_sparsity(stripped, ["dense1"])
    assert report.overall == pytest.approx(0.6, abs=0.01)
