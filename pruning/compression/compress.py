"""The CompressExporter's whole step as one plain function (usable from a notebook).

Optionally trains the pruned model for int8 with pruning-preserving QAT (`qat`), then writes and
measures every deployable file of both models (`compare`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np
import tf_keras as keras

from pruning import data
from pruning.compression import files, qat
from pruning.compression.report import CompressionReport
from pruning.params import CompressionParams, TrainingParams

log = logging.getLogger(__name__)


def compress_models(
    baseline: keras.Model,
    pruned: keras.Model,
    out_dir: str,
    eval_images: np.ndarray,
    eval_labels: np.ndarray,
    train_images: np.ndarray,
    train_labels: np.ndarray,
    params: CompressionParams,
    training: TrainingParams | None = None,
    progress: Callable[[str], None] = log.info,
    image_format: data.ImageFormat = data.MNIST,
) -> CompressionReport:
    """Both models' files in the local directory `out_dir`, and their report.

    The first `params.representative_examples` train images calibrate full-integer quantization;
    PQAT (`params.pqat_epochs` > 0) trains on all of them, with `training`'s batch size and seed.
    The SavedModels serve tf.Examples in `image_format`, the data's.
    """
    training = training or TrainingParams()
    eval_images = data.model_inputs(eval_images, pruned.input_shape)
    train_images = data.model_inputs(train_images, pruned.input_shape)
    pqat_model = None
    if params.pqat_epochs:
        progress(f"pruning-preserving QAT of the pruned model, {params.pqat_epochs} epoch(s) "
                 f"on {len(train_images)} examples")
        pqat_model = qat.pqat_fine_tune(pruned, train_images, train_labels, params,
                                        batch_size=training.batch_size, seed=training.seed)
    return files.write_and_measure(
        baseline, pruned, out_dir, eval_images, eval_labels,
        train_images[:params.representative_examples], latency_runs=params.latency_runs,
        progress=progress, pqat_model=pqat_model, image_format=image_format)
