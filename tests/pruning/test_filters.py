"""Structured pruning: masks on whole channels, their schedule, and the shrink to a narrower model.

The shrink is checked by content: the narrower model must give the masked model's outputs on real
MNIST test images (parsed from the original IDX file, not through the pipeline).
"""

from __future__ import annotations

import numpy as np
import pytest
import tf_keras as keras

from pruning import architecture
from pruning.model import cnn, export
from pruning.params import FilterParams, InvalidParam, ModelParams, TrainingParams
from pruning.sparsity import filters
from tests.support import idx_arrays

REMOVED = {"conv1": 0.5, "conv2": 0.25, "conv3": 0.75, "dense1": 0.5}


@pytest.fixture(scope="module")
def real_images(mnist_manual_dir) -> np.ndarray:
    images, _ = idx_arrays(mnist_manual_dir, "t10k")
    return (images[:256].reshape(-1, 28, 28) / 255.0).astype(np.float32)


@pytest.fixture(scope="module")
def real_train(mnist_manual_dir) -> tuple[np.ndarray, np.ndarray]:
    images, labels = idx_arrays(mnist_manual_dir, "train")
    return ((images[:512].reshape(-1, 28, 28) / 255.0).astype(np.float32),
            labels[:512].astype(np.int64))


def random_model(architecture_name: str) -> keras.Model:
    """A small model with random weights and batch-norm statistics: nothing is zero by chance."""
    keras.utils.set_random_seed(1)
    model = cnn.build_model(ModelParams(architecture_name, width=8, dense_units=16, dropout=0.0))
    rng = np.random.default_rng(1)
    for layer in model.layers:
        weights = layer.get_weights()
        if layer.name.endswith("_bn"):  # gamma, beta, moving mean, moving variance
            weights = [rng.uniform(0.5, 1.5, w.shape) if i in (0, 3)
                       else rng.normal(0, 0.2, w.shape) for i, w in enumerate(weights)]
        elif layer.name == "dense1":  # kernel, bias, scale
            weights = [weights[0], rng.normal(0, 0.1, weights[1].shape),
                       rng.uniform(0.5, 1.5, weights[2].shape)]
        elif layer.name == "logits":
            weights = [weights[0], rng.normal(0, 0.1, weights[1].shape)]
        layer.set_weights([np.asarray(w, np.float32) for w in weights])
    return model


@pytest.mark.integration  # reads the real MNIST files
@pytest.mark.parametrize("architecture_name", ["functional", "sequential"])
def test_shrunk_model_gives_the_masked_models_outputs_on_real_images(architecture_name,
                                                                     real_images):
    model = random_model(architecture_name)
    unmasked = model.predict(real_images, verbose=0)
    masks = filters.ChannelMasks(model)
    masks.update(REMOVED)
    masks.apply()
    masked = model.predict(real_images, verbose=0)

    narrow = filters.shrink(model, masks.kept())

    assert isinstance(narrow, type(model)) and narrow.name == model.name
    widths = architecture.shrinkable_layers(cnn.model_params(narrow))
    assert widths == {"conv1": 4, "conv2": 12, "conv3": 4, "dense1": 8}
    assert narrow.count_params() < model.count_params() / 3
    np.testing.assert_allclose(narrow.predict(real_images, verbose=0), masked,
                               rtol=1e-5, atol=1e-5)
    # The masks did change the outputs: the comparison above can fail.
    assert np.abs(masked - unmasked).max() > 1e-2
    # The custom ScaledDense layer kept its learned scale for the surviving units.
    kept_units = masks.kept()["dense1"]
    np.testing.assert_array_equal(narrow.get_layer("dense1").scale.numpy(),
                                  model.get_layer("dense1").scale.numpy()[kept_units])


def test_the_channels_kept_are_the_largest_after_batch_norm_is_folded_in():
    model = random_model("functional")
    # conv2's filters 0-7 get a tiny batch-norm scale: folded in, they are the smallest, even
    # though filters 0-3 have the largest kernels.
    kernel = model.get_layer("conv2").kernel.numpy()
    kernel[..., :4] *= 10
    model.get_layer("conv2").kernel.assign(kernel)
    gamma, beta, mean, variance = model.get_layer("conv2_bn").get_weights()
    gamma[:8] = 1e-3
    model.get_layer("conv2_bn").set_weights([gamma, beta, mean, variance])
    masks = filters.ChannelMasks(model)

    masks.update({"conv2": 0.5})

    assert masks.kept()["conv2"].tolist() == list(range(8, 16))
    assert len(masks.kept()["conv1"]) == 8  # layers not named keep every channel


def test_a_removed_channel_stays_removed_when_the_masks_are_updated_again():
    model = random_model("functional")
    masks = filters.ChannelMasks(model)
    masks.update({"conv1": 0.25})
    masks.apply()
    removed = set(range(8)) - set(masks.kept()["conv1"])
    # Zeroed, the removed filters would now be the smallest anyway; make them the largest.
    kernel = model.get_layer("conv1").kernel.numpy()
    kernel[..., sorted(removed)] = 100.0
    model.get_layer("conv1").kernel.assign(kernel)

    masks.update({"conv1": 0.5})

    assert len(masks.kept()["conv1"]) == 4
    assert not removed & set(masks.kept()["conv1"])


def test_schedule_rises_along_a_cubic_to_the_target_one_epoch_before_the_end():
    schedule = filters.FilterSchedule.for_run(
        FilterParams(filter_sparsity=(("conv2", 0.6),), frequency=10), steps_per_epoch=50,
        epochs=3)

    assert (schedule.begin, schedule.end) == (0, 100)
    assert schedule.removed(0) == {"conv2": 0.0}
    assert schedule.removed(50)["conv2"] == pytest.approx(0.6 * (1 - 0.5 ** 3))
    assert schedule.removed(100) == schedule.removed(150) == {"conv2": pytest.approx(0.6)}
    due = [step for step in range(160) if schedule.update_due(step)]
    assert due == list(range(0, 101, 10))


@pytest.mark.integration  # reads the real MNIST files
def test_prune_filters_trains_masked_then_returns_the_shrunk_model(tmp_path, real_train):
    images, labels = real_train
    model = random_model("functional")
    params = FilterParams(filter_sparsity=tuple(REMOVED.items()), epochs=2, frequency=2)
    training = TrainingParams(epochs=2, batch_size=64, augment=False)
    epochs_seen = []

    result = filters.prune_filters(model, params, training, images, labels,
                                   checkpoint_dir=str(tmp_path),
                                   on_epoch_end=lambda epoch, loss: epochs_seen.append(epoch))

    assert epochs_seen == [0, 1]
    assert result.kept == {"conv1": 4, "conv2": 12, "conv3": 4, "dense1": 8}
    assert result.source == "trained"
    # `model` ends masked at the targets: its removed filters are exactly zero, and the shrunk
    # model computes what it computes.
    kernel = model.get_layer("conv3").kernel.numpy()
    assert (np.abs(kernel).reshape(-1, 16).sum(axis=0) == 0).sum() == 12
    np.testing.assert_allclose(result.model.predict(images[:128], verbose=0),
                               model.predict(images[:128], verbose=0), rtol=1e-4, atol=1e-4)
    # A retry of the finished run reloads the shrunk model instead of training again.
    again = filters.prune_filters(random_model("functional"), params, training, images, labels,
                                  checkpoint_dir=str(tmp_path))
    assert again.source == "reloaded" and again.kept == result.kept
    np.testing.assert_array_equal(again.model.get_layer("dense1").kernel.numpy(),
                                  result.model.get_layer("dense1").kernel.numpy())


@pytest.mark.integration  # reads the real MNIST files
def test_an_interrupted_masked_run_resumes_with_its_masks(tmp_path, real_train):
    images, labels = real_train
    params = FilterParams(filter_sparsity=(("conv2", 0.5), ("dense1", 0.75)), epochs=3,
                          frequency=2)
    training = TrainingParams(epochs=3, batch_size=64, augment=False)

    class Stop(Exception):
        pass

    def stop_after_first(epoch, loss):
        if epoch == 0:
            raise Stop

    model = random_model("functional")
    with pytest.raises(Stop):
        filters.prune_filters(model, params, training, images, labels,
                              checkpoint_dir=str(tmp_path), on_epoch_end=stop_after_first)
    removed_after_one = int((np.abs(model.get_layer("dense1").kernel.numpy()).sum(axis=0) == 0)
                            .sum())
    assert 0 < removed_after_one < 12  # part of the way along the schedule

    epochs_seen = []
    result = filters.prune_filters(random_model("functional"), params, training, images, labels,
                                   checkpoint_dir=str(tmp_path),
                                   on_epoch_end=lambda epoch, loss: epochs_seen.append(epoch))

    assert epochs_seen == [1, 2]  # epoch 1 is not repeated
    assert result.kept["dense1"] == 4 and result.kept["conv2"] == 8


@pytest.mark.parametrize(("filter_sparsity", "message"), [
    ((("logits", 0.5),), "'logits', which cannot shrink: its units are the classes"),
    ((("conv9", 0.5),), "'conv9', which is not a layer"),
    ((("conv1", 0.95),), "would remove every one of the 8 filters of layer 'conv1'"),
])
def test_a_shrink_the_model_cannot_take_is_refused_naming_the_layer(filter_sparsity, message):
    with pytest.raises(InvalidParam, match=message):
        architecture.kept_channels(ModelParams(width=8), FilterParams(filter_sparsity))


@pytest.mark.parametrize(("values", "message"), [
    ({"filter_sparsity": (("conv1", 1.0),)}, r"each removed fraction in \(0, 1\)"),
    ({"filter_sparsity": (("conv1", 0.5), ("conv1", 0.2))}, "must name each layer once"),
    ({"teacher_weight": 1.5}, r"teacher_weight must be in \[0, 1\]"),
    ({"epochs": 0}, "epochs must be >= 1"),
])
def test_filter_params_name_the_bad_value(values, message):
    with pytest.raises(InvalidParam, match=message):
        FilterParams(**values)


def test_filter_params_round_trip_through_json():
    params = FilterParams(filter_sparsity=(("conv1", 0.75), ("dense1", 0.8)), teacher_weight=0.3)
    assert FilterParams.from_json(params.to_json()) == params


def test_the_narrow_shape_survives_a_keras_file(tmp_path):
    narrow = cnn.build_model(ModelParams(width=8, dense_units=12, filters=(3, 5, 7)))
    loaded = export.load_keras(export.save_keras(narrow, str(tmp_path / "m.keras")))
    assert cnn.model_params(loaded) == ModelParams(width=3, dense_units=12, dropout=0.3,
                                                   filters=(3, 5, 7))
