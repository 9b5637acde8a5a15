"""The size of every image, which only a whole pass over the Examples can tell, as statistics and
as anomalies.

A first record says the data's format (`pruning.records`); whether every other image has the same
size, and is an image at all, takes a pass over all of them. TFDV's statistics cannot say it: a
PNG or JPEG, or a row of raw bytes, is one bytes value to them, whatever it holds. So:

- StatisticsGen, for encoded and raw images, counts the sizes of each split's images in a Beam
  pass (`CountSizes`: a PNG's or JPEG's header, a raw row's length; no pixel is decoded) and adds
  them to the image feature's statistics as two custom statistics: `image_sizes`, a rank
  histogram ("28x28": 59,998, "not a PNG or JPEG": 2), and `image_size`, the size every image must
  have (`add_to_statistics`).
- ExampleValidator turns any other size into an anomaly of that feature (`anomalies`), beside
  TFDV's own, so the Trainer stops on it before it trains (components/anomalies.py).

Images stored as int64 lists need neither: the Schema fixes their length, which TFDV checks.
"""

from __future__ import annotations

from collections.abc import Iterable

import apache_beam as beam
import tensorflow as tf
from tensorflow_metadata.proto.v0 import anomalies_pb2, statistics_pb2

from components.beam_records import ReadTFRecords
from pruning.image_data import ImageFormat, encoded_size

SIZES_STAT = "image_sizes"  # rank histogram: each size found -> its count of images
SIZE_STAT = "image_size"  # str: the size every image must have
NOT_AN_IMAGE = "not a PNG or JPEG"
ANOMALY = "Images of another size"


def needs_pass(image_format: ImageFormat) -> bool:
    """Whether the Schema alone cannot check the images' size (bytes of any length)."""
    return image_format.encoding in ("encoded", "raw")


def expected_size(image_format: ImageFormat) -> str:
    """The size every image of the format has, in `size_of`'s words."""
    height, width, _ = image_format.shape
    if image_format.encoding == "encoded":
        return f"{height}x{width}"
    return f"{image_format.pixels} bytes"


def size_of(payload: bytes, image_format: ImageFormat) -> str:
    """One image's size, in the words the statistics keep: "28x28" (its PNG or JPEG header's),
    "not a PNG or JPEG", or "784 bytes" (raw pixels)."""
    if image_format.encoding != "encoded":
        return f"{len(payload)} bytes"
    size = encoded_size(payload)
    return f"{size[0]}x{size[1]}" if size else NOT_AN_IMAGE


def _sizes(record: bytes, image_format: ImageFormat) -> Iterable[str]:
    feature = tf.train.Example.FromString(record).features.feature.get(image_format.image_key)
    # An example without the feature is TFDV's to report (the Schema requires it in every one).
    if feature is not None:
        yield from (size_of(value, image_format) for value in feature.bytes_list.value)


@beam.ptransform_fn
def CountSizes(pipeline: beam.Pipeline, files: list[str], image_format: ImageFormat
               ) -> beam.PCollection:
    """One (size, count) per size among the images of `files` (`size_of`), each file read with
    the compression its first bytes say."""
    return (pipeline | "ReadTFRecords" >> ReadTFRecords(files)
            | "Sizes" >> beam.FlatMap(_sizes, image_format)
            | "Count" >> beam.combiners.Count.PerElement())


def count_into_statistics(pipeline: beam.Pipeline, files: dict[str, list[str]],
                          statistics_files: dict[str, str], image_format: ImageFormat) -> None:
    """For each split of `files`, its images' sizes counted and added to its statistics file."""
    for split, paths in files.items():
        _ = (pipeline | f"CountSizes[{split}]" >> CountSizes(paths, image_format)
             | f"Collect[{split}]" >> beam.combiners.ToList()
             | f"AddToStatistics[{split}]" >> beam.Map(
                 lambda counted, path: add_to_statistics(path, dict(counted), image_format),
                 statistics_files[split]))


def add_to_statistics(path: str, counts: dict[str, int], image_format: ImageFormat) -> None:
    """The counted sizes as custom statistics of the image feature in the statistics file at
    `path` (TFDV's binary DatasetFeatureStatisticsList), rewritten in place."""
    statistics = statistics_pb2.DatasetFeatureStatisticsList.FromString(
        tf.io.gfile.GFile(path, "rb").read())
    for dataset in statistics.datasets:
        for feature in dataset.features:
            if feature.path.step == [image_format.image_key] or (
                    feature.name == image_format.image_key):
                del feature.custom_stats[:]  # a pass run again replaces its own figures
                feature.custom_stats.add(name=SIZE_STAT, str=expected_size(image_format))
                histogram = feature.custom_stats.add(name=SIZES_STAT).rank_histogram
                for size, count in sorted(counts.items(), key=lambda item: -item[1]):
                    histogram.buckets.add(label=size, sample_count=count)
    with tf.io.gfile.GFile(path + ".tmp", "wb") as f:
        f.write(statistics.SerializeToString())
    tf.io.gfile.rename(path + ".tmp", path, overwrite=True)


def anomalies(statistics: statistics_pb2.DatasetFeatureStatisticsList
              ) -> dict[str, anomalies_pb2.AnomalyInfo]:
    """Feature name -> its anomaly, for each image feature whose counted sizes hold another
    size than the one every image must have."""
    found = {}
    for dataset in statistics.datasets:
        for feature in dataset.features:
            stats = {stat.name: stat for stat in feature.custom_stats}
            if SIZES_STAT not in stats or SIZE_STAT not in stats:
                continue
            expected = stats[SIZE_STAT].str
            counts = {bucket.label: int(bucket.sample_count)
                      for bucket in stats[SIZES_STAT].rank_histogram.buckets}
            other = {size: count for size, count in counts.items() if size != expected}
            if not other:
                continue
            total = sum(counts.values())
            listed = ", ".join(f"{count:,} {'are' if count > 1 else 'is'} {size}"
                               for size, count in other.items())
            description = (f"{sum(other.values()):,} of {total:,} images are not {expected} "
                           f"(the first record's size, which the model takes): {listed}")
            name = feature.name or "/".join(feature.path.step)
            found[name] = anomalies_pb2.AnomalyInfo(
                path={"step": list(feature.path.step) or [name]},
                severity=anomalies_pb2.AnomalyInfo.ERROR,
                short_description=ANOMALY,
                description=description,
                reason=[anomalies_pb2.AnomalyInfo.Reason(
                    type=anomalies_pb2.AnomalyInfo.UNKNOWN_TYPE,
                    short_description=ANOMALY, description=description)])
    return found

