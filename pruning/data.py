"""From serialized tf.Examples (any ExampleGen's, in an `ImageFormat`) to model inputs.

One parsing function for training, evaluation and the serving signature, so the model sees the
same images everywhere: the image feature, as the format stores it (an int64 list of pixels,
raw bytes, or PNG/JPEG), -> float32 [N, height, width, channels] in [0, 1]; the label -> int64.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
from collections.abc import Iterable, Iterator

import numpy as np
import tensorflow as tf

from pruning.image_data import (  # noqa: F401 (the data's, re-exported)
    IMAGE_SHAPE,
    MNIST,
    NUM_CLASSES,
    PIXEL_RANGE,
    ImageFormat,
)

IMAGE_KEY = MNIST.image_key
LABEL_KEY = MNIST.label_key

logger = logging.getLogger(__name__)


def feature_spec(image_format: ImageFormat = MNIST) -> dict[str, tf.io.FixedLenFeature]:
    """What `tf.io.parse_example` reads of the format's image and label."""
    image = (tf.io.FixedLenFeature([image_format.pixels], tf.int64)
             if image_format.encoding == "int64" else tf.io.FixedLenFeature([], tf.string))
    return {image_format.image_key: image,
            image_format.label_key: tf.io.FixedLenFeature([1], tf.int64)}


def decode_images(values: tf.Tensor, image_format: ImageFormat = MNIST) -> tf.Tensor:
    """The image feature of a batch, as parsed -> float32 [N, height, width, channels] in
    [0, 1]. An encoded image must decode to the format's shape (InvalidArgumentError)."""
    shape = list(image_format.shape)
    if image_format.encoding == "int64":
        pixels = tf.cast(values, tf.float32)
    elif image_format.encoding == "raw":
        pixels = tf.cast(tf.io.decode_raw(values, tf.uint8), tf.float32)
    else:
        channels = image_format.shape[2]

        def decode(encoded):
            image = tf.io.decode_image(encoded, channels=channels, expand_animations=False)
            return tf.ensure_shape(image, shape)

        pixels = tf.cast(tf.map_fn(decode, values, fn_output_signature=tf.uint8), tf.float32)
    return tf.reshape(pixels / 255.0, [-1, *shape])


def model_inputs(images: np.ndarray, input_shape) -> np.ndarray:
    """`images` in a model's own input shape (`model.input_shape`, batch first): the same values
    in another layout, as a 28x28 image is 28x28x1; ValueError when they do not hold as many
    values per image."""
    shape = tuple(int(d) for d in tuple(input_shape)[1:])
    if tuple(images.shape[1:]) == shape:
        return images
    if int(np.prod(images.shape[1:])) != int(np.prod(shape)):
        raise ValueError(f"The model takes inputs of shape {shape}, which do not hold the "
                         f"{'x'.join(map(str, images.shape[1:]))} values of an image")
    return images.reshape((len(images), *shape))


def parse_examples(serialized: tf.Tensor, image_format: ImageFormat = MNIST
                   ) -> tuple[tf.Tensor, tf.Tensor]:
    """A batch of serialized tf.Examples -> (images [N, height, width, channels] in [0, 1],
    labels [N])."""
    return features_to_inputs(tf.io.parse_example(serialized, feature_spec(image_format)),
                              image_format)


def features_to_inputs(features: dict[str, tf.Tensor], image_format: ImageFormat = MNIST
                       ) -> tuple[tf.Tensor, tf.Tensor]:
    """Parsed features (as `parse_example` or TFX's data accessor give them) -> model inputs."""
    labels = tf.reshape(features[image_format.label_key], [-1])
    return decode_images(features[image_format.image_key], image_format), labels


def to_arrays(dataset: tf.data.Dataset) -> tuple[np.ndarray, np.ndarray]:
    """One pass over a batched (images, labels) dataset, held in memory.

    MNIST's 60,000 images are 188 MB as float32: reading and parsing the gzipped records once,
    instead of every epoch, makes an epoch several seconds faster.
    """
    images, labels = [], []
    for batch_images, batch_labels in dataset:
        images.append(batch_images.numpy())
        labels.append(batch_labels.numpy())
    if not images:
        raise ValueError("The dataset is empty")
    return np.concatenate(images), np.concatenate(labels)


def in_memory_dataset(
    images: np.ndarray,
    labels: np.ndarray,
    batch_size: int,
    *,
    shuffle: bool = False,
    augment: bool = False,
    seed: int = 0,
) -> tf.data.Dataset:
    """Batches of (images, labels) from arrays; one pass, reshuffled on every pass."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if len(images) != len(labels):
        raise ValueError(f"{len(images)} images but {len(labels)} labels")
    dataset = tf.data.Dataset.from_tensor_slices((images, labels))
    if shuffle:
        dataset = dataset.shuffle(len(images), seed=seed, reshuffle_each_iteration=True)
    return _finish(dataset.batch(batch_size), augment)


def split_files(examples_uri: str, split: str) -> list[str]:
    """The TFRecord files of one split of an Examples artifact directory (any URI TensorFlow
    reads: a local path, gs://, ram://)."""
    files = sorted(tf.io.gfile.glob(os.path.join(examples_uri, f"Split-{split}", "*")))
    if not files:
        raise FileNotFoundError(f"No files for split {split!r} under {examples_uri}")
    return files


def read_files(patterns: list[str], limit: int | None = None,
               image_format: ImageFormat = MNIST) -> tuple[np.ndarray, np.ndarray]:
    """(images [N, height, width, channels], labels) of the gzipped TFRecord files matching
    `patterns`, in file order; only the first `limit` when given. A file that cannot be read to
    its end raises `CorruptRecordsError` naming it."""
    files = sorted({f for pattern in patterns for f in tf.io.gfile.glob(pattern)})
    if not files:
        raise FileNotFoundError(f"No files match {patterns}")
    dataset = make_dataset(files, limit or 4096, image_format=image_format)
    with naming_corrupt_files(files):
        return to_arrays(dataset.take(1) if limit else dataset)


class CorruptRecordsError(ValueError):
    """TFRecord files that cannot be read to their end: bytes changed or cut off after they were
    written (a gzip or TFRecord checksum does not match, or the file ends inside a record)."""


def find_corrupt_files(files: list[str]) -> dict[str, str]:
    """Each of the gzipped TFRecord `files` that cannot be read to its end -> why.

    Readers (tf.data, Beam) report a bad checksum without naming the file; this reads every file
    alone, so it costs one more pass over the data: call it after a read failed. Only data loss
    counts: another error (a denied or unavailable bucket) is raised as it is.
    """
    corrupt = {}
    for path in files:
        try:
            for _ in tf.data.TFRecordDataset(path, compression_type="GZIP").batch(4096):
                pass
        except tf.errors.DataLossError as error:
            corrupt[path] = error_text(error.message)
    return corrupt


@contextlib.contextmanager
def naming_corrupt_files(files: Iterable[str]) -> Iterator[None]:
    """Re-raises a failure inside as CorruptRecordsError naming each of `files` that cannot be
    read to its end, when there is one; any other failure, or one the check itself hits, is
    raised as it was. `files` is iterated only after a failure (a generator lists them late)."""
    try:
        yield
    except Exception as error:
        try:
            files = list(files)
            corrupt = find_corrupt_files(files)
        except Exception as check_error:  # the failure inside says more than the check's
            logger.warning("Could not check the files for corruption: %s", check_error)
            corrupt = {}
        if not corrupt:
            raise
        listed = "; ".join(f"{path} ({reason})" for path, reason in corrupt.items())
        raise CorruptRecordsError(
            f"{len(corrupt)} of {len(files)} TFRecord files cannot be read to their end: their "
            f"bytes changed or were cut off after they were written: {listed}. Write them "
            "again.") from error


def error_text(message: str) -> str:
    """TensorFlow's read error without its op and function decorations."""
    message = re.sub(r"\{\{function_node [^}]*\}\}\s*", "", message)
    message = re.sub(r"\s*\[Op:[^\]]*\].*$", "", message, flags=re.S)
    return message.strip() or "unreadable"


def read_split(
    examples_uri: str, split: str, limit: int | None = None, image_format: ImageFormat = MNIST
) -> tuple[np.ndarray, np.ndarray]:
    """(images, labels) of one split of an Examples artifact directory, in file order; only
    the first `limit` when given."""
    return read_files(split_files(examples_uri, split), limit, image_format)


def make_dataset(
    files: list[str],
    batch_size: int,
    *,
    shuffle: bool = False,
    augment: bool = False,
    seed: int = 0,
    image_format: ImageFormat = MNIST,
) -> tf.data.Dataset:
    """Batches of (images, labels) from gzipped TFRecords; one pass (add .repeat() to loop)."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    records = tf.data.TFRecordDataset(files, compression_type="GZIP")
    if shuffle:
        records = records.shuffle(60_000, seed=seed, reshuffle_each_iteration=True)
    batches = records.batch(batch_size).map(lambda batch: parse_examples(batch, image_format),
                                            num_parallel_calls=tf.data.AUTOTUNE)
    return _finish(batches, augment)


# tf.data's autotuning runs in a thread of each iterator, and an iterator's destructor waits for
# it: `fit` returned 15-25 s after its last epoch, at a different point from run to run (the pause
# docs/benchmarks.md measures), and at once without it, with the same epoch times.
NO_AUTOTUNE_THREAD = tf.data.Options()
NO_AUTOTUNE_THREAD.autotune.enabled = False


def _finish(batches: tf.data.Dataset, augment: bool) -> tf.data.Dataset:
    """What both builders end with: optional augmentation, then prefetching."""
    if augment:
        batches = batches.map(augment_images, num_parallel_calls=tf.data.AUTOTUNE)
    return batches.prefetch(tf.data.AUTOTUNE).with_options(NO_AUTOTUNE_THREAD)


MAX_SHIFT = 1  # pixels: shifts of up to 1 pixel beat 2 on MNIST (docs/design.md)


def augment_images(images: tf.Tensor, labels: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """Random shifts of up to MAX_SHIFT pixels, the augmentation that helps MNIST CNNs most.

    One random offset per batch (a single crop of the padded batch): cheap on a CPU, and what
    the measured accuracies in docs/benchmarks.md used.
    """
    if images.shape.rank == 4:  # [N, height, width, channels]
        padded = tf.pad(images, [[0, 0], [MAX_SHIFT, MAX_SHIFT], [MAX_SHIFT, MAX_SHIFT], [0, 0]])
        return tf.image.random_crop(padded, tf.shape(images)), labels
    padded = tf.pad(images, [[0, 0], [MAX_SHIFT, MAX_SHIFT], [MAX_SHIFT, MAX_SHIFT]])
    batch, height, width = tf.unstack(tf.shape(images))
    crops = tf.image.random_crop(padded[..., None], tf.stack([batch, height, width, 1]))
    return tf.squeeze(crops, -1), labels
