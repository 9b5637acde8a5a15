"""Pruning-preserving quantization-aware training (TFMOT PQAT) of a pruned model.

Fine-tunes the stripped pruned model with fake int8 quantization in the forward pass while a mask
keeps every pruned weight at zero (`Default8BitPrunePreserveQuantizeScheme`), so the full-integer
TFLite file is trained for int8. It retrains the shared values clustering left, so the file
gzips larger than the clustered one (docs/design.md, "Pruning-preserving QAT as the deployed file").
"""

from __future__ import annotations

import numpy as np
import tensorflow_model_optimization as tfmot
import tf_keras as keras
from tensorflow_model_optimization.python.core.quantization.keras.collab_opts.prune_preserve import (  # noqa: E501
    prune_preserve_quantize_registry as prune_preserve,
)

from pruning import data
from pruning.model import layers
from pruning.params import CompressionParams
from pruning.training.baseline import compile_model
from pruning.training.reproducible import seed_everything

quantization = tfmot.quantization.keras


@keras.utils.register_keras_serializable(package="pruning")
class ScaledDenseQuantizeConfig(quantization.QuantizeConfig):
    """How QAT quantizes the custom `ScaledDense`: its kernel as TFMOT quantizes a Dense kernel
    (8 bits, per tensor, symmetric) but through the prune-preserving quantizer, which multiplies
    by the sparsity mask; its output like any activation."""

    def get_weights_and_quantizers(self, layer):
        return [(layer.kernel, prune_preserve.PrunePreserveDefault8BitWeightsQuantizer())]

    def get_activations_and_quantizers(self, layer):
        return []

    def set_quantize_weights(self, layer, quantize_weights):
        layer.kernel = quantize_weights[0]

    def set_quantize_activations(self, layer, quantize_activations):
        pass

    def get_output_quantizers(self, layer):
        return [quantization.quantizers.MovingAverageQuantizer(
            num_bits=8, per_axis=False, symmetric=False, narrow_range=False)]

    def get_config(self):
        return {}


def _annotate(layer: keras.layers.Layer) -> keras.layers.Layer:
    if isinstance(layer, layers.ScaledDense):
        return quantization.quantize_annotate_layer(layer, ScaledDenseQuantizeConfig())
    if isinstance(layer, keras.layers.InputLayer | keras.layers.Dropout | keras.layers.Flatten):
        return layer
    return quantization.quantize_annotate_layer(layer)


def apply_pqat(model: keras.Model) -> keras.Model:
    """`model` (stripped, pruned) wrapped for pruning-preserving quantization-aware training."""
    annotated = keras.models.clone_model(model, clone_function=_annotate)
    scope = {"ScaledDense": layers.ScaledDense,
             "ScaledDenseQuantizeConfig": ScaledDenseQuantizeConfig}
    with quantization.quantize_scope(scope):
        return quantization.quantize_apply(
            annotated, tfmot.experimental.combine.Default8BitPrunePreserveQuantizeScheme())


def pqat_fine_tune(
    model: keras.Model,
    images: np.ndarray,
    labels: np.ndarray,
    params: CompressionParams,
    *,
    batch_size: int,
    seed: int = 0,
) -> keras.Model:
    """The QAT model after `params.pqat_epochs` epochs (>= 1) at `params.pqat_learning_rate`;
    `tflite.convert(..., "int8")` converts it."""
    if not params.pqat_epochs:
        raise ValueError("CompressionParams.pqat_epochs is 0: PQAT is off")
    seed_everything(seed)
    qat = apply_pqat(model)
    compile_model(qat, keras.optimizers.Adam(params.pqat_learning_rate))
    dataset = data.in_memory_dataset(images, labels, batch_size, shuffle=True, augment=True,
                                     seed=seed)
    qat.fit(dataset, epochs=params.pqat_epochs, verbose=2)
    return qat
