"""Every image's size, counted over the whole data into its statistics, and any other size an
ExampleValidator anomaly: on files of mixed sizes and payloads that are no image."""

from __future__ import annotations

import apache_beam as beam
import numpy as np
import pytest
import tensorflow as tf
from tensorflow_metadata.proto.v0 import anomalies_pb2, statistics_pb2
from tfx.components.example_validator import labels

from components import image_sizes
from components.standard import ExampleValidatorExecutor
from pruning.image_data import ImageFormat
from tests import user_data

PNG = ImageFormat("image/encoded", "image/class/label", "encoded", (28, 28, 1))
RAW = ImageFormat("pixels", "label", "raw", (4, 4, 3))


def _png(shape, seed=0) -> bytes:
    image = np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)
    return tf.io.encode_png(image).numpy()


def _example(payload: bytes, image_format: ImageFormat) -> tf.train.Example:
    return tf.train.Example(features=tf.train.Features(feature={
        image_format.image_key: tf.train.Feature(bytes_list=tf.train.BytesList(value=[payload])),
        image_format.label_key: tf.train.Feature(int64_list=tf.train.Int64List(value=[0]))}))


def _statistics_file(path, image_format: ImageFormat) -> str:
    """A statistics file as TFDV writes one: the image feature and the label, no custom stats."""
    statistics = statistics_pb2.DatasetFeatureStatisticsList()
    dataset = statistics.datasets.add(num_examples=10)
    for name in (image_format.image_key, image_format.label_key):
        dataset.features.add(path={"step": [name]})
    path.write_bytes(statistics.SerializeToString())
    return str(path)


def _count(tmp_path, payloads: list[bytes], image_format: ImageFormat, gzip_it: bool):
    files = []
    for index in range(2):  # two files, each read with its own compression
        path = tmp_path / f"part-{index}"
        with tf.io.TFRecordWriter(str(path), options="GZIP" if gzip_it and index else "") as w:
            for payload in payloads[index::2]:
                w.write(_example(payload, image_format).SerializeToString())
        files.append(str(path))
    stats_path = _statistics_file(tmp_path / "FeatureStats.pb", image_format)
    with beam.Pipeline() as pipeline:
        image_sizes.count_into_statistics(pipeline, {"train": files}, {"train": stats_path},
                                          image_format)
    return statistics_pb2.DatasetFeatureStatisticsList.FromString(
        open(stats_path, "rb").read())


def _custom(statistics, name: str) -> dict:
    [feature] = [f for f in statistics.datasets[0].features if f.path.step == [name]]
    return {stat.name: stat for stat in feature.custom_stats}


@pytest.mark.parametrize("gzip_it", [False, True])
def test_encoded_sizes_are_counted_into_the_statistics(tmp_path, gzip_it):
    payloads = ([_png((28, 28, 1), seed) for seed in range(7)] + [_png((32, 30, 1))] * 2
                + [b"GIF89a not an image"])
    statistics = _count(tmp_path, payloads, PNG, gzip_it)
    stats = _custom(statistics, "image/encoded")
    assert stats[image_sizes.SIZE_STAT].str == "28x28"
    assert {bucket.label: bucket.sample_count for bucket in
            stats[image_sizes.SIZES_STAT].rank_histogram.buckets} == {
        "28x28": 7, "32x30": 2, image_sizes.NOT_AN_IMAGE: 1}
    assert _custom(statistics, "image/class/label") == {}
    [(name, info)] = image_sizes.anomalies(statistics).items()
    assert name == "image/encoded"
    assert info.short_description == image_sizes.ANOMALY
    assert info.description == ("3 of 10 images are not 28x28 (the first record's size, which "
                                "the model takes): 2 are 32x30, 1 is not a PNG or JPEG")


def test_raw_rows_of_another_length_are_counted(tmp_path):
    payloads = [bytes(48)] * 5 + [bytes(47)]
    statistics = _count(tmp_path, payloads, RAW, gzip_it=False)
    assert _custom(statistics, "pixels")[image_sizes.SIZE_STAT].str == "48 bytes"
    assert "1 of 6 images are not 48 bytes" in image_sizes.anomalies(statistics)[
        "pixels"].description


def test_images_of_one_size_are_no_anomaly(tmp_path):
    statistics = _count(tmp_path, [_png((28, 28, 1), seed) for seed in range(4)], PNG, True)
    assert image_sizes.anomalies(statistics) == {}


def test_the_example_validator_reports_them_beside_tfdvs_own(tmp_path):
    """TFX's ExampleValidator executor, its own validation and ours: both anomalies written
    where TFX writes them, so the Trainer's gate (components/anomalies.py) reads both."""
    import tensorflow_data_validation as tfdv

    path = str(tmp_path / "data")
    with tf.io.TFRecordWriter(path) as writer:
        for label, shape in ((0, (28, 28, 1)), (3, (28, 28, 1)), (12, (14, 14, 1))):
            example = _example(_png(shape), PNG)
            example.features.feature[PNG.label_key].int64_list.value[:] = [label]
            writer.write(example.SerializeToString())
    statistics = tfdv.generate_statistics_from_tfrecord(path, pipeline_options=None)
    stats_path = tmp_path / "FeatureStats.pb"
    stats_path.write_bytes(statistics.SerializeToString())
    with beam.Pipeline() as pipeline:
        image_sizes.count_into_statistics(pipeline, {"train": [path]}, {"train": str(stats_path)},
                                          PNG)
    statistics = statistics_pb2.DatasetFeatureStatisticsList.FromString(
        stats_path.read_bytes())
    schema = tfdv.infer_schema(statistics)
    [label] = [feature for feature in schema.feature if feature.name == PNG.label_key]
    label.int_domain.min, label.int_domain.max = 0, 9  # a class out of range: TFDV's anomaly
    out = tmp_path / "anomalies"
    out.mkdir()
    found = ExampleValidatorExecutor()._Validate(
        {"statistics": statistics, "schema": schema}, {labels.SCHEMA_DIFF_PATH: str(out)})
    written = anomalies_pb2.Anomalies.FromString((out / "SchemaDiff.pb").read_bytes())
    assert written == found
    assert set(found.anomaly_info) == {"image/encoded", "image/class/label"}
    assert "1 of 3 images are not 28x28: 1 is 14x14" in found.anomaly_info[
        "image/encoded"].description.replace(" (the first record's size, which the model "
                                             "takes)", "")


def test_pngs_written_as_the_tests_write_them_have_their_size():
    image = np.zeros((32, 32, 3), np.uint8)
    payload = user_data.png(image).bytes_list.value[0]
    assert image_sizes.size_of(payload, PNG) == "32x32"
