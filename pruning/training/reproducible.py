"""One seed for every random source of a training run, and the same numbers from it every time.

`keras.utils.set_random_seed` seeds Python, NumPy and TensorFlow: the initial weights, shuffling,
augmentation and dropout draw from it. TensorFlow's op determinism makes the rest repeatable:
without it, the same seed gave different weights once TensorBoard logged the run (two processes
running the PruneTrainer; two baselines trained in one process), with it bit-identical ones, at
no measured cost per epoch (docs/benchmarks.md, "Several seeds"). Op determinism is process-wide
and stays on.
"""

from __future__ import annotations

import tensorflow as tf
import tf_keras as keras


def seed_everything(seed: int) -> None:
    """Seeds Python, NumPy and TensorFlow with `seed` and turns on op determinism."""
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be an int >= 0, got {seed!r}")
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()
