"""Exporting a trained (or stripped pruned) model for TFMA, TF Serving and the next step."""

from __future__ import annotations

import os

import tensorflow as tf
import tf_keras as keras

from pruning import data
from pruning.model import outputs
from pruning.model.layers import ScaledDense

SERVING_SIGNATURE = "serving_default"


def export_saved_model(model: keras.Model, export_dir: str,
                       image_format: data.ImageFormat = data.MNIST) -> None:
    """SavedModel whose `serving_default` takes serialized tf.Examples, their image stored as
    the data stores it (`image_format`: pixels, raw bytes or PNG/JPEG), and returns class scores.

    Scores are probabilities (`scores`, [N, classes]); the label feature may be absent. The
    images reach the model in its own input shape.
    """
    shape = [-1, *(int(d) for d in model.input_shape[1:])]
    key = image_format.image_key

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="examples")])
    def serve_examples(serialized):
        values = tf.io.parse_example(serialized, {key: data.feature_spec(image_format)[key]})
        images = tf.reshape(data.decode_images(values[key], image_format), shape)
        return {"scores": outputs.probabilities(model, model(images, training=False))}

    tf.saved_model.save(model, export_dir, signatures={SERVING_SIGNATURE: serve_examples})


def save_keras(model: keras.Model, path: str) -> str:
    """The Keras file (`.keras`) the next step (pruning, compression) loads; returns its path.

    Any URI TensorFlow writes (a local path, gs://).
    """
    tf.io.gfile.makedirs(os.path.dirname(path))
    model.save(path)
    return path


def load_keras(path: str) -> keras.Model:
    """Loads a Keras file of this project's models, uncompiled (the caller picks the optimizer).

    The custom layer is registered here, so the caller need not import `pruning.layers`.
    """
    return keras.models.load_model(
        path, custom_objects={"pruning>ScaledDense": ScaledDense}, compile=False
    )
