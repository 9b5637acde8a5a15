"""Sparsity-preserving clustering: few distinct values per kernel, every zero kept."""

from __future__ import annotations

import numpy as np
import pytest

from pruning.params import ClusteringParams
from pruning.sparsity import clustering
from tests.pruning.helpers import ALL_PRUNABLE, tiny_model


def _sparse_tiny_model(fraction: float = 0.8):
    model = tiny_model()
    for layer in model.layers:
        if layer.name in ALL_PRUNABLE:
            kernel = layer.kernel.numpy()
            kernel[np.abs(kernel) < np.quantile(np.abs(kernel), fraction)] = 0
            layer.kernel.assign(kernel)
    return model


@pytest.mark.parametrize("epochs", [0, 1])
def test_clustered_kernels_hold_at_most_k_values_and_keep_every_zero(epochs):
    model = _sparse_tiny_model()
    zeros_before = {n: model.get_layer(n).kernel.numpy() == 0 for n in ALL_PRUNABLE}
    rng = np.random.default_rng(0)
    images = rng.random((32, 28, 28), dtype=np.float32)
    labels = rng.integers(0, 10, size=32)

    clustered = clustering.cluster_and_fine_tune(
        model, ClusteringParams(clusters=4, epochs=epochs), ALL_PRUNABLE, images, labels,
        batch_size=16,
    )

    assert not any("cluster" in layer.name for layer in clustered.layers)  # stripped
    distinct = clustering.distinct_values(clustered, ALL_PRUNABLE)
    assert all(2 <= count <= 4 for count in distinct.values()), distinct
    for name in ALL_PRUNABLE:
        kernel = clustered.get_layer(name).kernel.numpy()
        assert np.all(kernel[zeros_before[name]] == 0), name
        assert len(np.unique(kernel)) == distinct[name]


def test_only_the_named_layers_are_clustered():
    model = _sparse_tiny_model()
    clustered = clustering.cluster_and_fine_tune(
        model, ClusteringParams(clusters=4, epochs=0), ["dense1"],
        np.zeros((1, 28, 28), np.float32), np.zeros(1, np.int64), batch_size=1,
    )
    assert clustering.distinct_values(clustered, ["dense1"]) == {"dense1": 4}
    assert clustering.distinct_values(clustered, ["conv2"])["conv2"] > 4


def test_layers_with_too_few_weights_for_the_clusters_are_left_alone():
    model = _sparse_tiny_model()
    conv1 = model.get_layer("conv1")
    kernel = np.zeros(conv1.kernel.shape, np.float32)
    kernel.flat[:3] = [-0.5, 0.25, 0.75]  # 3 non-zeros cannot hold 7 non-zero centroids
    conv1.kernel.assign(kernel)
    assert not clustering.can_cluster(kernel, 8)

    clustered = clustering.cluster_and_fine_tune(
        model, ClusteringParams(clusters=8, epochs=0), ALL_PRUNABLE,
        np.zeros((1, 28, 28), np.float32), np.zeros(1, np.int64), batch_size=1,
    )
    np.testing.assert_array_equal(clustered.get_layer("conv1").kernel.numpy(), kernel)
    assert clustering.distinct_values(clustered, ["dense1"]) == {"dense1": 8}


@pytest.mark.parametrize(
    ("kernel", "clusters", "expected"),
    [([0.0, 0.0], 4, False), ([1.0, 2.0, 3.0, -1.0], 4, True), ([1.0, 2.0, -1.0], 8, False),
     ([1.0] * 90 + [-1.0] * 10, 8, True)],
)
def test_can_cluster_follows_tfmots_split_of_centroids(kernel, clusters, expected):
    assert clustering.can_cluster(np.array(kernel), clusters) is expected


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"clusters": 1}, "clusters must be 0 \\(off\\) or >= 2, got 1"),
        ({"clusters": -3}, "clusters must be 0 \\(off\\) or >= 2, got -3"),
        ({"epochs": -1}, "epochs must be >= 0, got -1"),
        ({"learning_rate": 0.0}, "learning_rate must be > 0, got 0.0"),
        ({"init": "random"}, "init must be one of kmeans_plus_plus, linear, density_based, "
         "got 'random'"),
    ],
)
def test_invalid_parameters_name_the_value(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ClusteringParams(**kwargs)


def test_unknown_layer_and_disabled_clustering_are_refused():
    model = tiny_model()
    with pytest.raises(ValueError, match="has no layer \\['dense9'\\] to cluster"):
        clustering.apply_clustering(model, ClusteringParams(clusters=4), ["dense9"])
    with pytest.raises(ValueError, match="needs clusters >= 2"):
        clustering.apply_clustering(model, ClusteringParams(clusters=0), ["dense1"])
