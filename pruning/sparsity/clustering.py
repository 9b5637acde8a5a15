"""Sparsity-preserving weight clustering of a pruned model (TFMOT `cluster_weights`).

Why: an int8 TFLite kernel at 97 % sparsity still spends about 8 bits on each surviving weight.
With every kernel limited to a few shared values (zero stays a value of its own, so the sparsity
is kept), gzip codes each weight in 3-4 bits (docs/design.md, "Clustering (`CLUSTER_COUNT`)").
"""

from __future__ import annotations

import logging

import numpy as np
import tensorflow_model_optimization as tfmot
import tf_keras as keras

from pruning import data
from pruning.params import CENTROID_INITS, ClusteringParams
from pruning.training.baseline import compile_model
from pruning.training.reproducible import seed_everything

log = logging.getLogger(__name__)

INITS = {name: getattr(tfmot.clustering.keras.CentroidInitialization, name.upper())
         for name in CENTROID_INITS}


def _layers_by_name(model: keras.Model, layer_names: list[str]) -> dict:
    """{name: layer} of the model; ValueError naming any name it lacks."""
    by_name = {layer.name: layer for layer in model.layers}
    missing = sorted(set(layer_names) - set(by_name))
    if missing:
        raise ValueError(f"Model {model.name!r} has no layer {missing} to cluster")
    return by_name


def apply_clustering(
    model: keras.Model, params: ClusteringParams, layer_names: list[str]
) -> keras.Model:
    """`model` with the named layers wrapped for sparsity-preserving clustering."""
    if not params.enabled:
        raise ValueError("apply_clustering needs clusters >= 2")
    _layers_by_name(model, layer_names)

    def wrap(layer: keras.layers.Layer) -> keras.layers.Layer:
        if layer.name not in layer_names:
            return layer
        return tfmot.clustering.keras.cluster_weights(
            layer,
            number_of_clusters=params.clusters,
            cluster_centroids_init=INITS[params.init],
            preserve_sparsity=True,
        )

    return keras.models.clone_model(model, clone_function=wrap)


def can_cluster(kernel: np.ndarray, clusters: int) -> bool:
    """Whether TFMOT's sparsity-preserving initialization can place `clusters` centroids.

    It keeps one centroid at zero and splits the other clusters - 1 between the negative and the
    positive weights in proportion to their counts; each side needs at least as many weights as
    centroids (a layer pruned to a handful of weights has fewer, and TFMOT then fails).
    """
    negative, positive = int(np.sum(kernel < 0)), int(np.sum(kernel > 0))
    if negative + positive == 0:
        return False
    negative_clusters = int(np.round((clusters - 1) * negative / (negative + positive)))
    return negative_clusters <= negative and clusters - 1 - negative_clusters <= positive


def cluster_and_fine_tune(
    model: keras.Model,
    params: ClusteringParams,
    layer_names: list[str],
    images: np.ndarray,
    labels: np.ndarray,
    *,
    batch_size: int,
    augment: bool = True,
    seed: int = 0,
) -> keras.Model:
    """The stripped (plain-layer) model with clustered kernels, fine-tuned `params.epochs`.

    Layers with too few non-zero weights to place the clusters (see `can_cluster`) are left as
    they are: they already hold about as few distinct values as clustering would give them.
    """
    by_name = _layers_by_name(model, layer_names)
    chosen = [name for name in layer_names
              if can_cluster(keras.backend.get_value(by_name[name].kernel), params.clusters)]
    skipped = sorted(set(layer_names) - set(chosen))
    if skipped:
        log.warning("Not clustering %s: too few non-zero weights for %d clusters",
                    ",".join(skipped), params.clusters)
    if not chosen:
        return model
    seed_everything(seed)
    clustered = apply_clustering(model, params, chosen)
    if params.epochs:
        compile_model(clustered, keras.optimizers.Adam(params.learning_rate),
                      soft_targets=labels.ndim == 2)
        dataset = data.in_memory_dataset(
            images, labels, batch_size, shuffle=True, augment=augment, seed=seed
        )
        clustered.fit(dataset, epochs=params.epochs, verbose=2)
    return tfmot.clustering.keras.strip_clustering(clustered)


def distinct_values(model: keras.Model, layer_names: list[str]) -> dict[str, int]:
    """Number of different values in each named layer's kernel (zero counts as one)."""
    by_name = {layer.name: layer for layer in model.layers}
    return {name: int(np.unique(keras.backend.get_value(by_name[name].kernel)).size)
            for name in layer_names}
