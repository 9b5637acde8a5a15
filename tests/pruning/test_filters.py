"""Structured pruning while fine-tuning: masks on channel groups, their schedule, and the narrowed
model they leave.

One mechanism: the masked model and the narrowed one agree by construction, checked by content on
real MNIST test images (parsed from the original IDX file, not through the pipeline) for the
project's CNN in both builds, and on a residual model the masks were not written around.
"""

from __future__ import annotations

import numpy as np
import pytest
import tf_keras as keras

from pruning import structured
from pruning.model import cnn, resnet8
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
    model = cnn.build_model(params=ModelParams(architecture_name, width=8, dense_units=16,
                                               dropout=0.0))
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


def masks_for(model: keras.Model, sparsity) -> filters.ChannelMasks:
    graph = structured.analyze(model)
    return filters.ChannelMasks(graph, structured.group_fractions(graph, sparsity))


def fractions_of(masks: filters.ChannelMasks, sparsity: dict) -> dict[int, float]:
    return {masks.graph.group_of_layer(name).index: value for name, value in sparsity.items()}


def kept_of(masks: filters.ChannelMasks, name: str) -> list[int]:
    """The channels of layer `name`'s group the masks keep, by position in the group."""
    group = masks.graph.group_of_layer(name)
    return np.flatnonzero(masks.keep()[group.channels]).tolist()


@pytest.mark.integration  # reads the real MNIST files
@pytest.mark.parametrize("architecture_name", ["functional", "sequential"])
def test_the_narrowed_model_gives_the_masked_models_outputs_on_real_images(architecture_name,
                                                                           real_images):
    model = random_model(architecture_name)
    unmasked = model.predict(real_images, verbose=0)
    masks = masks_for(model, REMOVED)
    masks.update(fractions_of(masks, REMOVED))
    masks.apply()
    masked = model.predict(real_images, verbose=0)

    narrowed = structured.narrowed_model(masks.graph, masks.keep())
    narrow = narrowed.model

    assert isinstance(narrow, type(model)) and narrow.name == model.name
    assert narrowed.widths == {"conv1": 4, "conv2": 12, "conv3": 4, "dense1": 8}
    assert narrow.count_params() < model.count_params() / 3
    np.testing.assert_allclose(narrow.predict(real_images, verbose=0), masked,
                               rtol=1e-5, atol=1e-5)
    # The masks did change the outputs: the comparison above can fail.
    assert np.abs(masked - unmasked).max() > 1e-2
    # The custom ScaledDense layer kept its learned scale for the surviving units.
    kept_units = narrowed.kept["dense1"].outputs
    np.testing.assert_array_equal(narrow.get_layer("dense1").scale.numpy(),
                                  model.get_layer("dense1").scale.numpy()[kept_units])


def test_a_mask_zeroes_the_rows_of_every_kernel_that_reads_the_group():
    model = random_model("functional")
    masks = masks_for(model, {"conv3": 0.5})
    masks.update(fractions_of(masks, {"conv3": 0.5}))
    masks.apply()
    removed = sorted(set(range(16)) - set(kept_of(masks, "conv3")))
    assert len(removed) == 8
    rows = model.get_layer("dense1").kernel.numpy()  # conv3 flattened: 5 x 5 positions x 16
    zero_rows = np.flatnonzero(np.abs(rows).sum(axis=1) == 0)
    assert zero_rows.tolist() == [p * 16 + c for p in range(25) for c in removed]
    assert np.abs(model.get_layer("conv3").kernel.numpy()).min() > 0  # producers keep training


def test_a_residual_models_masked_run_is_its_narrowed_model():
    keras.utils.set_random_seed(3)
    model = resnet8.build_model((12, 12, 1), 10)
    rng = np.random.default_rng(3)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.set_weights([rng.uniform(0.5, 1.5, w.shape).astype(np.float32)
                               for w in layer.get_weights()])
    images = rng.random((16, 12, 12, 1), dtype=np.float32)
    masks = masks_for(model, 0.5)
    masks.update({group.index: 0.5 for group in masks.groups})
    masks.apply()
    narrowed = structured.narrowed_model(masks.graph, masks.keep())
    assert narrowed.model.count_params() < model.count_params() / 2
    np.testing.assert_allclose(narrowed.model(images, training=False),
                               model(images, training=False), rtol=1e-4, atol=1e-4)


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
    masks = masks_for(model, {"conv1": 0.25, "conv2": 0.5})

    masks.update(fractions_of(masks, {"conv2": 0.5}))

    assert kept_of(masks, "conv2") == list(range(8, 16))
    assert len(kept_of(masks, "conv1")) == 8  # groups not updated keep every channel


def test_a_removed_channel_stays_removed_when_the_masks_are_updated_again():
    model = random_model("functional")
    masks = masks_for(model, {"conv1": 0.5})
    masks.update(fractions_of(masks, {"conv1": 0.25}))
    masks.apply()
    removed = set(range(8)) - set(kept_of(masks, "conv1"))
    # Removed, the channels' own filters would still be the largest: make them so.
    kernel = model.get_layer("conv1").kernel.numpy()
    kernel[..., sorted(removed)] = 100.0
    model.get_layer("conv1").kernel.assign(kernel)

    masks.update(fractions_of(masks, {"conv1": 0.5}))

    assert len(kept_of(masks, "conv1")) == 4
    assert not removed & set(kept_of(masks, "conv1"))


def test_schedule_rises_along_a_cubic_to_the_target_one_epoch_before_the_end():
    schedule = filters.FilterSchedule.for_run({3: 0.6}, frequency=10, steps_per_epoch=50,
                                              epochs=3)

    assert (schedule.begin, schedule.end) == (0, 100)
    assert schedule.removed(0) == {3: 0.0}
    assert schedule.removed(50)[3] == pytest.approx(0.6 * (1 - 0.5 ** 3))
    assert schedule.removed(100) == schedule.removed(150) == {3: pytest.approx(0.6)}
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
    # `model` ends masked at the targets: the rows reading conv3's removed channels are exactly
    # zero, and the narrowed model computes what it computes.
    rows = model.get_layer("dense1").kernel.numpy().reshape(25, 16, -1)
    assert (np.abs(rows).sum(axis=(0, 2)) == 0).sum() == 12
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
    removed_after_one = int((np.abs(model.get_layer("logits").kernel.numpy()).sum(axis=1) == 0)
                            .sum())
    assert 0 < removed_after_one < 12  # part of the way along the schedule

    epochs_seen = []
    result = filters.prune_filters(random_model("functional"), params, training, images, labels,
                                   checkpoint_dir=str(tmp_path),
                                   on_epoch_end=lambda epoch, loss: epochs_seen.append(epoch))

    assert epochs_seen == [1, 2]  # epoch 1 is not repeated
    assert result.kept["dense1"] == 4 and result.kept["conv2"] == 8


@pytest.mark.parametrize(("filter_sparsity", "message"), [
    ((("logits", 0.5),), "Layer 'logits' cannot lose channels: they are the model's output"),
    ((("conv9", 0.5),), "Layer 'conv9' is not in model 'cnn_functional'"),
])
def test_a_sparsity_the_model_cannot_take_is_refused_naming_the_layer(tmp_path, filter_sparsity,
                                                                       message):
    images = np.zeros((8, 28, 28), np.float32)
    with pytest.raises(structured.SparsityError, match=message):
        filters.prune_filters(random_model("functional"), FilterParams(filter_sparsity),
                              TrainingParams(), images, np.zeros(8, np.int64),
                              checkpoint_dir=str(tmp_path))
    assert not list(tmp_path.iterdir())  # refused before anything was written


@pytest.mark.parametrize(("values", "message"), [
    ({"filter_sparsity": (("conv1", 1.0),)}, r"each removed fraction in \(0, 1\)"),
    ({"filter_sparsity": (("conv1", 0.5), ("conv1", 0.2))}, "must name each layer once"),
    ({"filter_sparsity": 1.0}, r"the removed fraction in \(0, 1\)"),
    ({"teacher_weight": 1.5}, r"teacher_weight must be in \[0, 1\]"),
    ({"epochs": 0}, "epochs must be >= 1"),
])
def test_filter_params_name_the_bad_value(values, message):
    with pytest.raises(InvalidParam, match=message):
        FilterParams(**values)


@pytest.mark.parametrize("filter_sparsity", [(("conv1", 0.75), ("dense1", 0.8)), 0.5])
def test_filter_params_round_trip_through_json(filter_sparsity):
    params = FilterParams(filter_sparsity=filter_sparsity, teacher_weight=0.3)
    assert FilterParams.from_json(params.to_json()) == params
