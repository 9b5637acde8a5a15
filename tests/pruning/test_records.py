"""The user's TFRecords as their first records say: compression, format, one-line errors; and
the image sizes a PNG's or JPEG's header states."""

from __future__ import annotations

import gzip

import numpy as np
import pytest
import tensorflow as tf

from pruning import records
from pruning.image_data import ImageFormat, encoded_size
from tests import user_data


def _images(count: int, shape, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (count, *shape), dtype=np.uint8)


@pytest.mark.parametrize("shape", [(17, 23, 1), (23, 17, 3), (1, 300, 4)])
@pytest.mark.parametrize("encode", ["png", "jpeg", "progressive jpeg"])
def test_the_header_states_the_size_tensorflow_decodes(shape, encode):
    image = _images(1, shape)[0]
    if encode == "png":
        payload = tf.io.encode_png(image).numpy()
    else:
        if shape[2] == 4:
            image = image[..., :3]
        payload = tf.io.encode_jpeg(image, progressive=encode != "jpeg").numpy()
    decoded = tf.io.decode_image(payload).shape
    assert encoded_size(payload) == (decoded[0], decoded[1]) == shape[:2]


@pytest.mark.parametrize("payload", [b"", b"\x89PNG", b"\xff\xd8\xff\xe0" + b"\x00" * 3,
                                     b"GIF89a" + b"\x00" * 20, bytes(784)])
def test_anything_else_has_no_size(payload):
    assert encoded_size(payload) is None


def _write(path, examples, gzip_it=False):
    with tf.io.TFRecordWriter(str(path), options="GZIP" if gzip_it else "") as writer:
        for example in examples:
            writer.write(example.SerializeToString())
    return str(path)


def _dataset(root, encode, shape=(28, 28, 1), count=3, gzip_it=False, **keys):
    for split in records.SPLITS:
        (root / split).mkdir(parents=True)
        _write(root / split / "data", [user_data.example(image, 1, encode, **keys)
                                       for image in _images(count, shape)], gzip_it)
    return str(root)


@pytest.mark.parametrize("gzip_it", [False, True])
def test_compression_is_told_by_content(tmp_path, gzip_it):
    path = _write(tmp_path / "file.tfrecord.gz", [tf.train.Example()], gzip_it)
    assert records.compression(path) == ("GZIP" if gzip_it else "")


def test_a_plain_file_that_starts_like_gzip_is_plain(tmp_path):
    # A first record of 0x088B1F bytes: its length's first three bytes are gzip's magic.
    path = str(tmp_path / "plain")
    with tf.io.TFRecordWriter(path) as writer:
        writer.write(b"x" * 0x088B1F)
    with open(path, "rb") as f:
        assert f.read(3) == records.GZIP_MAGIC
    assert records.compression(path) == ""


@pytest.mark.parametrize(("encode", "shape", "given", "expected"), [
    (user_data.png, (28, 28, 1), None, ImageFormat("image/encoded", "image/class/label",
                                                   "encoded", (28, 28, 1))),
    (user_data.png, (20, 30, 3), None, ImageFormat("image/encoded", "image/class/label",
                                                   "encoded", (20, 30, 3))),
    (user_data.raw, (32, 32, 3), (32, 32, 3), ImageFormat("image/encoded", "image/class/label",
                                                          "raw", (32, 32, 3))),
    (user_data.int64, (8, 4, 1), (8, 4, 1), ImageFormat("image/encoded", "image/class/label",
                                                        "int64", (8, 4, 1))),
])
@pytest.mark.parametrize("gzip_it", [False, True])
def test_the_format_comes_from_the_first_records(tmp_path, encode, shape, given, expected,
                                                 gzip_it):
    root = _dataset(tmp_path, encode, shape, gzip_it=gzip_it, image_key="image/encoded",
                    label_key="image/class/label")
    assert records.inspect_dir(root, "image/encoded", "image/class/label", given) == expected


def _error(root, image_key="image", label_key="label", shape=None) -> str:
    with pytest.raises(records.RecordsError) as raised:
        records.inspect_dir(str(root), image_key, label_key, shape)
    assert "\n" not in str(raised.value)
    return str(raised.value)


def test_a_missing_feature_lists_the_features_there_are(tmp_path):
    root = _dataset(tmp_path, user_data.png, image_key="image/encoded",
                    label_key="image/class/label")
    message = _error(root, image_key="pixels", label_key="image/class/label")
    assert message.startswith("IMAGE_FEATURE=pixels: the records of ")
    assert message.endswith("have no feature 'pixels'; their features: image/class/label "
                            "(int64_list), image/encoded (bytes_list)")
    assert "LABEL_FEATURE=class" in _error(root, image_key="image/encoded", label_key="class")


def test_raw_pixels_must_fill_the_shape(tmp_path):
    root = _dataset(tmp_path, user_data.raw, (32, 32, 3))
    assert _error(root, shape=(28, 28, 3)).startswith(
        "IMAGE_SHAPE=28,28,3 holds 2,352 values, but the first image of ")
    assert _error(root).endswith("are raw pixels (3,072 uint8 bytes, no PNG or JPEG header); "
                                 "give their IMAGE_SHAPE=height,width,channels")


def test_an_empty_split_a_non_tfrecord_file_and_a_wrong_label_are_named(tmp_path):
    root = tmp_path / "data"
    _dataset(root, user_data.png)
    for path in (root / "train").iterdir():
        path.unlink()
    assert _error(root) == (f"{root}/train/ holds no files: EXAMPLES_DIR needs TFRecord files "
                            "of tf.Example in each of train/, eval/")
    (root / "train" / "notes.txt").write_text("these are not records\n" * 10)
    assert _error(root).startswith(f"{root}/train/notes.txt is not a TFRecord file (")
    (root / "train" / "notes.txt").write_bytes(gzip.compress(b"still not records" * 10))
    assert _error(root).startswith(f"{root}/train/notes.txt is not a TFRecord file (")
    (root / "train" / "notes.txt").unlink()
    _write(root / "train" / "labels", [user_data.example(
        image, 1, user_data.png, label_key="label") for image in _images(2, (28, 28, 1))])
    with_float_label = tf.train.Example()
    with_float_label.CopyFrom(user_data.example(_images(1, (28, 28, 1))[0], 1, user_data.png))
    with_float_label.features.feature["label"].Clear()
    with_float_label.features.feature["label"].float_list.value.append(1.0)
    _write(root / "train" / "labels", [with_float_label])
    assert _error(root) == (f"LABEL_FEATURE=label: in {root}/train/labels it is float_list of "
                            "1 values; a class is one int64")


def test_splits_of_two_formats_are_named(tmp_path):
    root = tmp_path / "data"
    _dataset(root, user_data.png)
    for path in (root / "eval").iterdir():
        path.unlink()
    _write(root / "eval" / "data", [user_data.example(image, 0, user_data.png)
                                    for image in _images(2, (32, 32, 1))])
    assert _error(root) == (f"{root}: train/ holds encoded images of 28x28x1 but eval/ "
                            "encoded images of 32x32x1")
