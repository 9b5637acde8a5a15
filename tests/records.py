"""Changing the bytes of a written TFRecord file, as a disk or a bucket might, through
`tf.io.gfile` (the files may live under `ram://`)."""

from __future__ import annotations

from collections.abc import Callable

import tensorflow as tf


def rewrite(path: str, change: Callable[[bytes], bytes]) -> None:
    """Replaces the file's bytes with `change(bytes)`."""
    raw = tf.io.gfile.GFile(path, "rb").read()
    with tf.io.gfile.GFile(path, "wb") as f:
        f.write(change(raw))


def flip_middle(raw: bytes) -> bytes:
    """`raw` with 8 bytes in its middle inverted: a gzip file then fails its checksum."""
    middle = len(raw) // 2
    return raw[:middle] + bytes(b ^ 0xFF for b in raw[middle:middle + 8]) + raw[middle + 8:]
