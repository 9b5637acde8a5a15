"""Model + optimizer + epoch in one `tf.train.Checkpoint`, so interrupted training resumes exactly.

Saved after every epoch. A rerun (a retried TFX execution, even after SIGKILL) restores the newest
checkpoint: the weights, the pruning wrappers' masks and steps, the optimizer's iteration count and
slot variables (Adam's moments), the number of finished epochs, and the optimizer step at which
this run's schedules started (non-zero when it continued another run's checkpoint).
"""

from __future__ import annotations

from collections.abc import Callable

import tensorflow as tf
import tf_keras as keras


class TrainingCheckpoint:
    """A directory of checkpoints of one model and its optimizer."""

    def __init__(
        self,
        directory: str,
        model: keras.Model,
        optimizer: keras.optimizers.Optimizer,
        max_to_keep: int = 2,
        extra: dict | None = None,
    ):
        """`extra`: more trackable state saved and restored with the model (e.g. masks)."""
        # Create the slot variables now, so a restore fills them at once rather than lazily at
        # the first training step (and so they can be inspected right after a restore).
        optimizer.build(model.trainable_variables)
        self.epoch = tf.Variable(0, dtype=tf.int64, trainable=False, name="epochs_done")
        self.start_step = tf.Variable(0, dtype=tf.int64, trainable=False, name="start_step")
        self.checkpoint = tf.train.Checkpoint(
            model=model, optimizer=optimizer, epoch=self.epoch, start_step=self.start_step,
            **(extra or {}),
        )
        self.manager = tf.train.CheckpointManager(self.checkpoint, directory, max_to_keep)

    @property
    def latest(self) -> str | None:
        return self.manager.latest_checkpoint

    def restore_latest(self) -> int:
        """Restores the newest checkpoint if any; returns the epochs already done (0 if none)."""
        if self.latest is None:
            return 0
        return self.restore(self.latest)

    def restore(self, path: str) -> int:
        """Restores a given checkpoint (e.g. another run's, to continue from it).

        ValueError when it holds a different model (other layers, another pruning scope).
        """
        try:
            self.checkpoint.restore(path).assert_existing_objects_matched()
        except AssertionError as error:
            raise ValueError(
                f"Checkpoint {path} does not match this model and optimizer: {error}"
            ) from None
        return int(self.epoch.numpy())

    def save(self, epochs_done: int) -> str:
        self.epoch.assign(epochs_done)
        return self.manager.save(checkpoint_number=epochs_done)

    def export(self, directory: str) -> str:
        """Saves the current state as the only checkpoint in another directory; returns it."""
        manager = tf.train.CheckpointManager(self.checkpoint, directory, max_to_keep=1)
        return manager.save(checkpoint_number=int(self.epoch.numpy()))


class SaveEveryEpoch(keras.callbacks.Callback):
    """Keras callback: checkpoint after each epoch (epoch numbers count from 0, saved as done)."""

    def __init__(self, checkpoint: TrainingCheckpoint):
        super().__init__()
        self._checkpoint = checkpoint

    def on_epoch_end(self, epoch, logs=None):
        self._checkpoint.save(epoch + 1)


class EpochHook(keras.callbacks.Callback):
    """Keras callback: `hook(epoch, loss)` after each epoch (after SaveEveryEpoch, if listed
    after it), e.g. to log progress."""

    def __init__(self, hook: Callable[[int, float], None] | None):
        super().__init__()
        self._hook = hook

    def on_epoch_end(self, epoch, logs=None):
        if self._hook:
            self._hook(epoch, float((logs or {}).get("loss", float("nan"))))


def latest_in(directory: str) -> str | None:
    """The newest checkpoint in a directory (e.g. a Checkpoint artifact), or None."""
    return tf.train.latest_checkpoint(directory)


def saved_value(path: str, name: str) -> int:
    """An integer saved in a checkpoint, read without building the model.

    `name` is `epoch`, `start_step` or `iterations` (the optimizer's step count). Reading these
    first lets a caller build the schedules that the restored run needs before restoring it.
    """
    keys = {
        "epoch": "epoch/.ATTRIBUTES/VARIABLE_VALUE",
        "start_step": "start_step/.ATTRIBUTES/VARIABLE_VALUE",
        "iterations": "optimizer/_iterations/.ATTRIBUTES/VARIABLE_VALUE",
    }
    try:
        return int(tf.train.load_variable(path, keys[name]))
    except (tf.errors.NotFoundError, ValueError) as error:
        raise ValueError(f"{path} is not a training checkpoint of this project: {error}") from None
