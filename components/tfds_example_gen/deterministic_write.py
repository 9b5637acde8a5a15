"""A Beam sink whose output files depend only on the set of records, never on worker timing.

TFX's own `WriteSplit` reshuffles randomly and lets the runner pick the shard count, so two runs
over the same data write different files. Here each record goes to the shard chosen by its SHA-256,
and each shard is written in SHA-256 order: a deterministic shuffle, byte-identical on every run.
"""

from __future__ import annotations

import hashlib
import os

import apache_beam as beam
import tensorflow as tf

FILE_PREFIX = "data_tfrecord"  # TFX's name for ExampleGen output files.


def shard_file_name(shard: int, num_shards: int) -> str:
    return f"{FILE_PREFIX}-{shard:05d}-of-{num_shards:05d}.gz"


def _keyed_by_shard(record: bytes, num_shards: int) -> tuple[int, tuple[bytes, bytes]]:
    digest = hashlib.sha256(record).digest()
    return int.from_bytes(digest[:8], "big") % num_shards, (digest, record)


def _write_shard(
    shard_and_records: tuple[int, list[tuple[bytes, bytes]]], output_dir: str, num_shards: int
) -> int:
    shard, records = shard_and_records
    path = os.path.join(output_dir, shard_file_name(shard, num_shards))
    with tf.io.TFRecordWriter(path, options="GZIP") as writer:
        for _, record in sorted(records):
            writer.write(record)
    return len(records)


@beam.ptransform_fn
def WriteDeterministicSplit(
    records: beam.PCollection, output_dir: str, num_shards: int
) -> beam.PCollection:
    """Writes serialized records as `num_shards` gzipped TFRecord files; outputs per-shard counts.

    A shard that receives no record gets no file (only possible with fewer records than shards).
    """
    if num_shards < 1:
        raise ValueError(f"num_shards must be >= 1, got {num_shards}")
    tf.io.gfile.makedirs(output_dir)
    return (
        records
        | "KeyByShard" >> beam.Map(_keyed_by_shard, num_shards)
        | "GroupByShard" >> beam.GroupByKey()
        | "WriteShard" >> beam.Map(_write_shard, output_dir, num_shards)
    )


def count_records(output_dir: str) -> int:
    """Records in a split directory's files, read back from disk."""
    files = tf.io.gfile.glob(os.path.join(output_dir, f"{FILE_PREFIX}-*"))
    return sum(1 for _ in tf.data.TFRecordDataset(files, compression_type="GZIP"))
