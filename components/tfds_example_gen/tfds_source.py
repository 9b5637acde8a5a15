"""Plain TFDS helpers: fail-fast checks, offline preparation, fingerprints, tf.Examples.

Nothing here depends on TFX, so the same functions work from a notebook:

    builder = prepare_dataset("mnist", data_dir="/tmp/tfds", manual_dir="../shared/data/mnist")
    for record in iter_serialized_examples("test", dataset="mnist", data_dir="/tmp/tfds", limit=5):
        ...
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Iterator

import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds
from tensorflow_datasets.core.download.download_manager import NonMatchingChecksumError

from components.splits import split_names
from pruning import data
from pruning.image_data import ImageFormat

_READ_BATCH_SIZE = 512

logger = logging.getLogger(__name__)


class NotImageClassificationError(ValueError):
    """A TFDS dataset whose features are not one image of a fixed shape and one class label."""


def image_features(builder: tfds.core.DatasetBuilder) -> tuple[str, str]:
    """(the builder's Image feature, its ClassLabel feature), by the builder's own info;
    NotImageClassificationError naming its features otherwise."""
    features = builder.info.features
    images = [name for name, feature in features.items()
              if isinstance(feature, tfds.features.Image)]
    labels = [name for name, feature in features.items()
              if isinstance(feature, tfds.features.ClassLabel)]
    if len(images) != 1 or len(labels) != 1:
        found = ", ".join(f"{name} ({type(feature).__name__})"
                          for name, feature in features.items())
        raise NotImageClassificationError(
            f"TFDS dataset {builder.name!r} is not an image classification dataset this "
            f"pipeline reads: it needs one Image and one ClassLabel feature, and has {found}")
    return images[0], labels[0]


def image_format(builder: tfds.core.DatasetBuilder) -> ImageFormat:
    """The format TfdsExampleGen writes the dataset in: each image an int64 list of its pixels
    under `image`, its class under `label` (`to_tf_example`)."""
    image, _ = image_features(builder)
    shape = tuple(builder.info.features[image].shape)
    if None in shape:
        raise NotImageClassificationError(
            f"TFDS dataset {builder.name!r} has images of varying sizes ({image}: {shape}); "
            "this pipeline trains on images of one shape: write them resized as TFRecords "
            "and give their directory as EXAMPLES_DIR")
    return ImageFormat(shape=tuple(int(d) for d in shape))


def num_classes(builder: tfds.core.DatasetBuilder) -> int:
    """The classes of the builder's ClassLabel."""
    return int(builder.info.features[image_features(builder)[1]].num_classes)


class SourceChecksumError(ValueError):
    """A source file in the manual directory is not the one the dataset version registers."""


class ManualDataMissingError(FileNotFoundError):
    """The dataset is not prepared and its source files are not in the manual directory.

    Raised before TFDS is asked for anything where the machine cannot reach the files' hosts
    (`can_download`), because TFDS would otherwise try the network for minutes before failing.
    """


def expected_source_files(builder: tfds.core.DatasetBuilder) -> list[str]:
    """File names the builder downloads, which TFDS also accepts from a manual_dir."""
    url_infos = builder.url_infos or {}
    names = {info.filename or url.rsplit("/", 1)[-1] for url, info in url_infos.items()}
    return sorted(names)


def check_manual_dir(builder: tfds.core.DatasetBuilder, manual_dir: str | None) -> None:
    """Raises ManualDataMissingError unless every source file of the builder is in `manual_dir`."""
    expected = expected_source_files(builder)
    if not expected:  # The builder registers no checksums: nothing to check up front.
        return
    missing = expected if not manual_dir else [
        name for name in expected if not tf.io.gfile.exists(os.path.join(manual_dir, name))
    ]
    if not missing:
        return
    where = (f"manual_dir {manual_dir!r} lacks {', '.join(missing)}" if manual_dir
             else "no manual_dir was given")
    files = f"its {len(expected)} source files" if len(expected) > 1 else "its source file"
    raise ManualDataMissingError(
        f"TFDS dataset {builder.name!r} is not prepared, and {where}. Put {files} "
        f"({', '.join(expected)}) in one directory and pass it as `manual_dir` "
        "(TFDS_MANUAL_DIR=... or --tfds-manual-dir ...); this machine cannot download them "
        "(it reaches none of their hosts)."
    )


def can_download(builder: tfds.core.DatasetBuilder, timeout_s: float = 3.0) -> bool:
    """Whether this machine reaches every host the builder downloads from (a TCP connection
    each, a few seconds at most): TFDS then downloads and checks the files as it normally does.
    Offline, the answer comes at once and the missing files are named instead."""
    import socket
    from urllib.parse import urlsplit

    hosts = {urlsplit(url).hostname for url in (builder.url_infos or {})}
    if not hosts or None in hosts:
        return False
    for host in hosts:
        try:
            socket.create_connection((host, 443), timeout=timeout_s).close()
        except OSError:
            return False
    return True


def download_dir(builder: tfds.core.DatasetBuilder) -> str:
    """Where TFDS keeps this dataset version's downloads and extracted files, apart from others.

    TFDS's default is one directory for every dataset, with extracted files named
    `downloads/extracted/<method>.<file name>` after the file name alone: MNIST and Fashion-MNIST
    share their four file names, so a dataset prepared second in the same data_dir silently
    reused the first one's extracted images (TFDS checks the archives' checksums, not the
    extracted copies').
    """
    return os.path.join(os.fspath(builder.data_dir_root), "downloads", builder.name,
                        str(builder.version))


def prepare_dataset(
    dataset: str, data_dir: str | None, manual_dir: str | None
) -> tfds.core.DatasetBuilder:
    """Returns the dataset's builder, preparing it from `manual_dir` first if needed.

    A prepared dataset in `data_dir` is reused without touching `manual_dir`. Otherwise the source
    files must be in `manual_dir` (checked in milliseconds); TFDS then verifies their registered
    checksums (`SourceChecksumError` names a corrupt, truncated or wrong file) and extracts them
    into a directory of this dataset version's own (`download_dir`).
    """
    builder = tfds.builder(dataset, data_dir=data_dir)
    image_format(builder)  # an image classification dataset, or named before any download
    if builder.is_prepared():
        logger.info("TFDS %s %s already prepared in %s", dataset, builder.version, builder.data_dir)
        return builder
    try:
        check_manual_dir(builder, manual_dir)
    except ManualDataMissingError:
        if not can_download(builder):
            raise
        logger.info("TFDS %s %s: no source files in %s; downloading them (TFDS checks their "
                    "registered checksums)", dataset, builder.version, manual_dir)
        manual_dir = None
    logger.info("Preparing TFDS %s %s from %s into %s", dataset, builder.version,
                manual_dir or "its download", builder.data_dir)
    try:
        builder.download_and_prepare(
            download_dir=download_dir(builder),
            # try_download_gcs=False: never ask GCS for a prebuilt copy (offline-first).
            download_config=tfds.download.DownloadConfig(
                manual_dir=manual_dir, try_download_gcs=False),
        )
    except NonMatchingChecksumError as error:
        raise SourceChecksumError(_checksum_message(builder, manual_dir, str(error))) from error
    return builder


def _checksum_message(builder: tfds.core.DatasetBuilder, manual_dir: str | None,
                      tfds_message: str) -> str:
    """Which source file failed TFDS's checksum check, and what the original one is."""
    infos = {info.filename or url.rsplit("/", 1)[-1]: info
             for url, info in (builder.url_infos or {}).items()}
    bad = [name for name in sorted(infos) if name in tfds_message] or sorted(infos)
    expected = "; ".join(f"{name}: {int(infos[name].size):,} bytes, SHA-256 "
                         f"{infos[name].checksum}" for name in bad)
    return (f"{', '.join(bad)} in {manual_dir} is not the original file of TFDS "
            f"{builder.name} {builder.version}: its SHA-256 differs (corrupt, truncated, or "
            f"another dataset's file of the same name). Replace it with the original "
            f"({expected}).")


def fingerprint(builder: tfds.core.DatasetBuilder) -> str:
    """What identifies the prepared files a conversion reads: their names, sizes and times.

    The way TFX's file-based ExampleGens fingerprint their input files (names, sizes and
    modification times, not contents, so it costs a directory listing even on a bucket): a
    dataset prepared again gives another fingerprint.
    """
    directory = os.fspath(builder.data_dir)
    entries = []
    if tf.io.gfile.isdir(directory):
        for name in sorted(tf.io.gfile.listdir(directory)):
            stat = tf.io.gfile.stat(os.path.join(directory, name))
            entries.append(f"{name}:{stat.length}:{stat.mtime_nsec}")
    digest = hashlib.sha256("\n".join(entries).encode()).hexdigest()[:16]
    return (f"tfds:{builder.name}:{builder.version},files:{len(entries)},"
            f"files_sha256:{digest}")


def check_split(builder: tfds.core.DatasetBuilder, split_expression: str) -> None:
    """Raises ValueError naming the split and the available ones if the expression is unknown."""
    available = sorted(builder.info.splits.keys())
    if not available:  # Unknown until prepared (or mocked): TFDS itself checks when reading.
        return
    unknown = [name for name in split_names(split_expression) if name not in available]
    if unknown:
        raise ValueError(
            f"TFDS dataset {builder.name!r} has no split {', '.join(unknown)!s} "
            f"(in {split_expression!r}); available: {', '.join(available)}"
        )


def to_tf_example(image: np.ndarray, label: int) -> tf.train.Example:
    """A tf.Example: `image` = the uint8 pixels (height x width x channels) as a row-major
    int64 list; `label` int64."""
    pixels = np.asarray(image, dtype=np.int64).reshape(-1).tolist()
    return tf.train.Example(
        features=tf.train.Features(
            feature={
                data.IMAGE_KEY: tf.train.Feature(int64_list=tf.train.Int64List(value=pixels)),
                data.LABEL_KEY: tf.train.Feature(
                    int64_list=tf.train.Int64List(value=[int(label)])),
            }
        )
    )


def iter_serialized_examples(
    split_expression: str, *, dataset: str, data_dir: str | None, limit: int | None = None
) -> Iterator[bytes]:
    """Streams a prepared split as serialized tf.Examples in TFDS's file order (no shuffling).

    Serialized deterministically: a proto map's default byte order may differ between processes,
    which would make the same example two different records.
    """
    builder = tfds.builder(dataset, data_dir=data_dir)
    names = image_features(builder)
    ds = builder.as_dataset(split=split_expression, shuffle_files=False)
    if limit is not None:
        ds = ds.take(limit)
    # Only the image and the label: another feature (an id, a string) would not batch.
    ds = ds.map(lambda example: tuple(example[name] for name in names))
    # Batches cut the per-element cost of eager iteration about fourfold.
    for images, labels in tfds.as_numpy(ds.batch(_READ_BATCH_SIZE)):
        for image, label in zip(images, labels, strict=True):
            yield to_tf_example(image, label).SerializeToString(deterministic=True)
