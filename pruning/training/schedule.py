"""The optimizer and learning-rate schedule both trainers use.

Linear warm-up then cosine decay to zero ("one cycle"): with batch norm and Adam this reaches the
baseline's accuracy in a few epochs, where a constant rate needs many more (docs/design.md).
`start_step` shifts the schedule so a run continued from another run's checkpoint (whose optimizer
has already counted its steps) gets a full schedule of its own.
"""

from __future__ import annotations

import math

import tensorflow as tf
import tf_keras as keras


@keras.utils.register_keras_serializable(package="pruning")
class WarmupCosine(keras.optimizers.schedules.LearningRateSchedule):
    """`peak` * linear ramp over `warmup_steps`, then half a cosine down to 0 at `total_steps`."""

    def __init__(self, peak: float, total_steps: int, warmup_steps: int = 0, start_step: int = 0):
        if peak <= 0:
            raise ValueError(f"learning rate must be > 0, got {peak}")
        if total_steps < 1:
            raise ValueError(f"total_steps must be >= 1, got {total_steps}")
        if not 0 <= warmup_steps < total_steps:
            raise ValueError(f"warmup_steps must be in [0, {total_steps}), got {warmup_steps}")
        self.peak = float(peak)
        self.total_steps = int(total_steps)
        self.warmup_steps = int(warmup_steps)
        self.start_step = int(start_step)

    def __call__(self, step):
        step = tf.cast(step, tf.float32) - self.start_step
        warm = self.peak * (step + 1) / max(self.warmup_steps, 1)
        progress = (step - self.warmup_steps) / (self.total_steps - self.warmup_steps)
        cosine = 0.5 * self.peak * (1 + tf.cos(math.pi * tf.clip_by_value(progress, 0.0, 1.0)))
        return tf.where(step < self.warmup_steps, warm, cosine)

    def get_config(self) -> dict:
        return {
            "peak": self.peak,
            "total_steps": self.total_steps,
            "warmup_steps": self.warmup_steps,
            "start_step": self.start_step,
        }


def make_optimizer(
    learning_rate: float,
    total_steps: int,
    warmup_fraction: float = 0.1,
    start_step: int = 0,
) -> keras.optimizers.Optimizer:
    """Adam on the warm-up + cosine schedule; `warmup_fraction` of the steps ramp up."""
    if not 0 <= warmup_fraction < 1:
        raise ValueError(f"warmup_fraction must be in [0, 1), got {warmup_fraction}")
    schedule = WarmupCosine(
        learning_rate, total_steps, int(warmup_fraction * total_steps), start_step
    )
    return keras.optimizers.Adam(schedule)
