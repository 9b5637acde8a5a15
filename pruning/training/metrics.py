"""Accuracy and loss of a model over a whole split: what the trainers report."""

from __future__ import annotations

import dataclasses

import tensorflow as tf
import tf_keras as keras

from pruning.model.outputs import gives_probabilities


@dataclasses.dataclass(frozen=True)
class Metrics:
    accuracy: float
    loss: float
    num_examples: int


def evaluate(model: keras.Model, dataset: tf.data.Dataset) -> Metrics:
    """Mean accuracy and cross-entropy over every (images, labels) batch, in inference mode."""
    loss_fn = keras.losses.SparseCategoricalCrossentropy(
        from_logits=not gives_probabilities(model), reduction="sum")
    correct, loss, count = 0, 0.0, 0
    for images, labels in dataset:
        logits = model(images, training=False)
        correct += int(tf.reduce_sum(tf.cast(tf.argmax(logits, -1) == labels, tf.int32)))
        loss += float(loss_fn(labels, logits))
        count += int(tf.shape(labels)[0])
    if count == 0:
        raise ValueError("Cannot evaluate on an empty dataset")
    return Metrics(accuracy=correct / count, loss=loss / count, num_examples=count)
