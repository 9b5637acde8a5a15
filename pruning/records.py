"""The user's own TFRecords of tf.Example: what a first record says of them, in seconds.

`EXAMPLES_DIR` holds `train/` and `eval/` directories of TFRecord files, gzipped or not: which one
is told by the file's own first bytes (`compression`), not its name. Before any Beam job starts,
`inspect_dir` reads the first record of each split and derives the data's `ImageFormat`: the image
feature holds PNG or JPEG bytes (their shape is the first image's), raw uint8 bytes or an int64
list of pixels (their shape is the one given, which they must fill exactly). What a first record
cannot tell (a label outside the classes, images of mixed sizes, a payload that is no image) the
ExampleValidator finds over the whole data (components/standard.py).

Every error is a `RecordsError` (a ValueError) saying in one line what is wrong and where.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import tensorflow as tf

from pruning.data import error_text
from pruning.image_data import JPEG_MAGIC, PNG_MAGIC, ImageFormat

SPLITS = ("train", "eval")
GZIP_MAGIC = b"\x1f\x8b\x08"  # gzip, deflate


class RecordsError(ValueError):
    """The user's TFRecords cannot give the pipeline images and labels: one line why."""


def compression(path: str) -> str:
    """'GZIP' when the file is a gzip stream of TFRecords, else '' (TFRecord's plain framing).

    A gzip stream starts with GZIP_MAGIC; so can a plain file, whose first 8 bytes are its first
    record's length (one of 35,615 bytes, say): a file that starts so is read as gzip once, and
    taken as plain if that fails."""
    with tf.io.gfile.GFile(path, "rb") as f:
        if f.read(len(GZIP_MAGIC)) != GZIP_MAGIC:
            return ""
    try:
        next(iter(tf.data.TFRecordDataset(path, compression_type="GZIP").take(1)), None)
    except (tf.errors.DataLossError, tf.errors.InvalidArgumentError):
        return ""
    return "GZIP"


def split_files(examples_dir: str, split: str) -> list[str]:
    """The files of `examples_dir/split/`, sorted; RecordsError when there are none."""
    directory = os.path.join(examples_dir, split)
    files = sorted(path for path in tf.io.gfile.glob(os.path.join(directory, "*"))
                   if not tf.io.gfile.isdir(path))
    if not files:
        raise RecordsError(f"{directory}/ holds no files: EXAMPLES_DIR needs TFRecord files of "
                           f"tf.Example in each of {', '.join(f'{s}/' for s in SPLITS)}")
    return files


def first_example(path: str) -> tf.train.Example:
    """The file's first record as a tf.Example; RecordsError when the file is empty, is not a
    TFRecord file, or holds something else."""
    dataset = tf.data.TFRecordDataset(path, compression_type=compression(path))
    try:
        record = next(iter(dataset.take(1)), None)
    except (tf.errors.DataLossError, tf.errors.InvalidArgumentError) as error:
        raise RecordsError(f"{path} is not a TFRecord file ({error_text(error.message)})"
                           ) from None
    if record is None:
        raise RecordsError(f"{path} holds no records")
    try:
        return tf.train.Example.FromString(record.numpy())
    except Exception:
        raise RecordsError(f"{path} holds records that are not tf.Example protos") from None


def _kind(feature: tf.train.Feature) -> str:
    return feature.WhichOneof("kind") or "empty"


def image_format(example: tf.train.Example, path: str, image_key: str, label_key: str,
                 shape: Sequence[int] | None) -> ImageFormat:
    """The format one example implies (module docstring); RecordsError naming the feature, the
    features there are, or the shape that does not fit."""
    features = example.features.feature
    there = ", ".join(f"{name} ({_kind(feature)})" for name, feature in sorted(features.items()))
    for option, key in (("IMAGE_FEATURE", image_key), ("LABEL_FEATURE", label_key)):
        if key not in features:
            raise RecordsError(f"{option}={key}: the records of {path} have no feature {key!r}; "
                               f"their features: {there}")
    if _kind(features[label_key]) != "int64_list" or len(features[label_key].int64_list.value) != 1:
        raise RecordsError(f"LABEL_FEATURE={label_key}: in {path} it is "
                           f"{_kind(features[label_key])} of "
                           f"{_count(features[label_key])} values; a class is one int64")
    image = features[image_key]
    if _kind(image) == "bytes_list" and len(image.bytes_list.value) == 1:
        payload = image.bytes_list.value[0]
        if payload.startswith((PNG_MAGIC, JPEG_MAGIC)):
            decoded = tuple(tf.io.decode_image(payload, expand_animations=False).shape)
            if shape is not None and tuple(shape) != decoded:
                raise RecordsError(f"IMAGE_SHAPE={','.join(map(str, shape))}: the first image "
                                   f"of {path} is {','.join(map(str, decoded))} (its own PNG or "
                                   "JPEG header says so); leave IMAGE_SHAPE unset for encoded "
                                   "images")
            return ImageFormat(image_key, label_key, "encoded", decoded)
        return _raw(image_key, label_key, "raw", len(payload), shape, path)
    if _kind(image) == "int64_list":
        return _raw(image_key, label_key, "int64", len(image.int64_list.value), shape, path)
    raise RecordsError(f"IMAGE_FEATURE={image_key}: in {path} it is {_kind(image)} of "
                       f"{_count(image)} values; an image is one PNG or JPEG, raw uint8 bytes, "
                       "or an int64 list of pixels")


def _count(feature: tf.train.Feature) -> int:
    kind = _kind(feature)
    return 0 if kind == "empty" else len(getattr(feature, kind).value)


def _raw(image_key: str, label_key: str, encoding: str, values: int,
         shape: Sequence[int] | None, path: str) -> ImageFormat:
    what = "uint8 bytes" if encoding == "raw" else "int64 pixel values"
    if shape is None:
        raise RecordsError(f"IMAGE_FEATURE={image_key}: the images of {path} are raw pixels "
                           f"({values:,} {what}, no PNG or JPEG header); give their "
                           "IMAGE_SHAPE=height,width,channels")
    height, width, channels = shape
    if height * width * channels != values:
        raise RecordsError(f"IMAGE_SHAPE={height},{width},{channels} holds "
                           f"{height * width * channels:,} values, but the first image of "
                           f"{path} has {values:,} {what}")
    return ImageFormat(image_key, label_key, encoding, (height, width, channels))


def inspect_dir(examples_dir: str, image_key: str, label_key: str,
                shape: Sequence[int] | None) -> ImageFormat:
    """The format of EXAMPLES_DIR's data, from the first record of each split's first file;
    RecordsError when a split is empty, a file is not TFRecord, or the splits disagree."""
    formats = {}
    for split in SPLITS:
        path = split_files(examples_dir, split)[0]
        formats[split] = image_format(first_example(path), path, image_key, label_key, shape)
    if formats["train"] != formats["eval"]:
        raise RecordsError(f"{examples_dir}: train/ holds {_describe(formats['train'])} but "
                           f"eval/ {_describe(formats['eval'])}")
    return formats["train"]


def _describe(image_format: ImageFormat) -> str:
    return f"{image_format.encoding} images of {'x'.join(map(str, image_format.shape))}"
