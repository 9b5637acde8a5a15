"""Two ways to train a model wrapped for pruning; both drive TFMOT's pruning step the same way.

Each pruning wrapper advances its own `pruning_step` and updates its mask when it is called with
`training=True`. `UpdatePruningStep` initialises those steps at the start of training and re-applies
the masks at each epoch end, so the weights saved after an epoch really hold the zeros.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import tensorflow as tf
import tensorflow_model_optimization as tfmot
import tf_keras as keras


def pruning_callbacks(log_dir: str | None = None) -> list[keras.callbacks.Callback]:
    callbacks = [tfmot.sparsity.keras.UpdatePruningStep()]
    if log_dir:
        # TensorBoard scalars of each pruned layer's sparsity and threshold.
        callbacks.append(tfmot.sparsity.keras.PruningSummaries(log_dir=log_dir))
    return callbacks


def fit_with_pruning(
    model: keras.Model,
    train_data: tf.data.Dataset,
    *,
    epochs: int,
    steps_per_epoch: int | None = None,
    initial_epoch: int = 0,
    validation_data: tf.data.Dataset | None = None,
    log_dir: str | None = None,
    callbacks: Sequence[keras.callbacks.Callback] = (),
) -> keras.callbacks.History:
    """`model.fit` with the pruning callbacks; the model must be compiled."""
    return model.fit(
        train_data,
        epochs=epochs,
        initial_epoch=initial_epoch,
        steps_per_epoch=steps_per_epoch,
        validation_data=validation_data,
        callbacks=[*pruning_callbacks(log_dir), *callbacks],
        verbose=2,
    )


def train_custom_loop(
    model: keras.Model,
    optimizer: keras.optimizers.Optimizer,
    train_data: tf.data.Dataset,
    *,
    epochs: int,
    steps_per_epoch: int,
    initial_epoch: int = 0,
    loss_fn: keras.losses.Loss | None = None,
    on_epoch_end: Callable[[int, float], None] | None = None,
) -> list[float]:
    """A GradientTape loop driving `UpdatePruningStep` by hand; returns each epoch's mean loss.

    `on_epoch_end(epoch, mean_loss)` runs after the masks are applied (e.g. to checkpoint).
    """
    loss_fn = loss_fn or keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    step_callback = tfmot.sparsity.keras.UpdatePruningStep()
    step_callback.set_model(model)
    step_callback.on_train_begin()

    @tf.function
    def train_step(images, labels):
        with tf.GradientTape() as tape:
            logits = model(images, training=True)  # advances each wrapper's pruning step
            loss = loss_fn(labels, logits) + tf.add_n([0.0, *model.losses])
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        return loss

    epoch_losses = []
    for epoch in range(initial_epoch, epochs):
        mean_loss = keras.metrics.Mean()
        for images, labels in train_data.take(steps_per_epoch):
            mean_loss.update_state(train_step(images, labels))
        step_callback.on_epoch_end(epoch)  # re-apply the masks to the weights
        epoch_losses.append(float(mean_loss.result()))
        if on_epoch_end:
            on_epoch_end(epoch, epoch_losses[-1])
    return epoch_losses
