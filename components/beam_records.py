"""TFRecord files read in a Beam pipeline, wherever TensorFlow can read them.

Beam's `ReadFromTFRecord` reads through Beam's own filesystems (local, gs://, s3://, hdfs://)
and splits big files across workers; a URI only TensorFlow's filesystems know (ram://, or a
scheme a TensorFlow plugin adds) it cannot open. Such files are read through `tf.io.gfile`
instead, one file per element. Either way each file is read with the compression its own
first bytes say (`pruning.records.compression`), not its name.
"""

from __future__ import annotations

import apache_beam as beam
import tensorflow as tf
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems

from pruning.records import compression


def beam_reads(path: str) -> bool:
    """Whether Beam has a filesystem for `path`."""
    try:
        FileSystems.get_filesystem(path)
    except ValueError:
        return False
    return True


def _records_through_tensorflow(path: str):
    for record in tf.data.TFRecordDataset(path, compression_type=compression(path)):
        yield record.numpy()


@beam.ptransform_fn
def ReadTFRecords(pipeline: beam.Pipeline, files: list[str]) -> beam.PCollection:
    """The serialized records of every file of `files`."""
    beam_files = [path for path in files if beam_reads(path)]
    other_files = [path for path in files if not beam_reads(path)]
    reads = [pipeline | f"Read[{index}]" >> beam.io.ReadFromTFRecord(
        path, compression_type=(CompressionTypes.GZIP if compression(path)
                                else CompressionTypes.UNCOMPRESSED))
        for index, path in enumerate(beam_files)]
    if other_files:
        reads.append(pipeline | "TensorFlowFiles" >> beam.Create(other_files)
                     | "ReadThroughTensorFlow" >> beam.FlatMap(_records_through_tensorflow))
    return reads | "Files" >> beam.Flatten()
