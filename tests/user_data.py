"""A user's own image TFRecords, written from the original IDX files (numpy and TensorFlow's own
encoders, not the pipeline's code): what `EXAMPLES_DIR` reads in the tests and the benchmark.

    python -m tests.user_data fashion_png OUT_DIR   # Fashion-MNIST as PNG tf.Examples, all of it

The layout is the one EXAMPLES_DIR takes: OUT_DIR/train/ and OUT_DIR/eval/, TFRecord files of
tf.Example; MNIST's test images are the eval split.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import tensorflow as tf

from tests.support import idx_arrays

Feature = Callable[[np.ndarray], tf.train.Feature]


def png(image: np.ndarray) -> tf.train.Feature:
    """The image as PNG bytes (one channel: [H, W, 1])."""
    return tf.train.Feature(bytes_list=tf.train.BytesList(
        value=[tf.io.encode_png(image).numpy()]))


def raw(image: np.ndarray) -> tf.train.Feature:
    """The uint8 pixels as bytes, row-major."""
    return tf.train.Feature(bytes_list=tf.train.BytesList(value=[image.astype(np.uint8)
                                                                 .tobytes()]))


def int64(image: np.ndarray) -> tf.train.Feature:
    return tf.train.Feature(int64_list=tf.train.Int64List(value=image.reshape(-1).tolist()))


def example(image: np.ndarray, label: int, encode: Feature, image_key: str = "image",
            label_key: str = "label") -> tf.train.Example:
    return tf.train.Example(features=tf.train.Features(feature={
        image_key: encode(image),
        label_key: tf.train.Feature(int64_list=tf.train.Int64List(value=[int(label)]))}))


def padded_colour(images: np.ndarray, size: int = 32) -> np.ndarray:
    """[N, 28, 28] grayscale digits -> [N, size, size, 3]: centred on a black square, each in a
    colour of its own (a seeded random tint), so the three channels differ."""
    count = len(images)
    out = np.zeros((count, size, size, 3), np.uint8)
    offset = (size - 28) // 2
    tints = np.random.default_rng(0).uniform(0.4, 1.0, (count, 1, 1, 3))
    out[:, offset:offset + 28, offset:offset + 28] = (images[..., None] * tints).astype(np.uint8)
    return out


def write_split(directory: Path, images: np.ndarray, labels: np.ndarray, encode: Feature,
                *, shards: int = 2, gzip: bool = False, image_key: str = "image",
                label_key: str = "label") -> list[Path]:
    """`shards` TFRecord files of the examples in `directory` (gzipped or not; file names end
    in .tfrecord either way: the pipeline tells them apart by content)."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = [directory / f"part-{index:05d}.tfrecord" for index in range(shards)]
    writers = [tf.io.TFRecordWriter(str(path), options="GZIP" if gzip else "") for path in paths]
    try:
        for index, (image, label) in enumerate(zip(images, labels, strict=True)):
            writers[index % shards].write(
                example(image, label, encode, image_key, label_key).SerializeToString())
    finally:
        for writer in writers:
            writer.close()
    return paths


def write_dataset(out: Path, manual_dir: Path, encode: Feature, *, train: int | None = None,
                  eval_count: int | None = None, transform=None, **options) -> Path:
    """`out`/train and `out`/eval from the IDX files of `manual_dir` (the first `train` and
    `eval_count` of each, all by default), each image through `transform` first."""
    for split, prefix, limit in (("train", "train", train), ("eval", "t10k", eval_count)):
        images, labels = idx_arrays(manual_dir, prefix)
        images = images[:limit].reshape(-1, 28, 28)
        images = transform(images) if transform else images[..., None]
        write_split(out / split, images, labels[:limit], encode, **options)
    return out


if __name__ == "__main__":
    kind, target = sys.argv[1:3]
    shared = Path(os.path.dirname(os.path.abspath(__file__))).parents[1] / "shared" / "data"
    if kind != "fashion_png":
        raise SystemExit(f"unknown dataset {kind!r}; known: fashion_png")
    write_dataset(Path(target), shared / "fashion_mnist", png, shards=8)
    print(f"Wrote {target}/train and {target}/eval")
