"""File and directory sizes: one method for all, the same figure for the same content."""

from __future__ import annotations

import gzip
import os
import time

import pytest

from pruning.compression import sizes


def test_file_sizes_are_bytes_on_disk_and_gzip_level_9(tmp_path):
    path = tmp_path / "weights.bin"
    content = bytes(1000) + os.urandom(200)
    path.write_bytes(content)
    assert sizes.raw_bytes(str(path)) == 1200
    assert sizes.gzip_bytes(str(path)) == len(gzip.compress(content, 9, mtime=0))


def test_directory_sizes_do_not_depend_on_file_times(tmp_path):
    directory = tmp_path / "saved_model"
    (directory / "variables").mkdir(parents=True)
    (directory / "saved_model.pb").write_bytes(b"graph" * 100)
    (directory / "variables" / "data").write_bytes(bytes(5000))
    assert sizes.raw_bytes(str(directory)) == 5500
    first = sizes.gzip_bytes(str(directory))
    later = time.time() + 3600
    os.utime(directory / "saved_model.pb", (later, later))
    assert sizes.gzip_bytes(str(directory)) == first
    assert first < 5500


def test_a_missing_path_is_named(tmp_path):
    for measure in (sizes.raw_bytes, sizes.gzip_bytes):
        with pytest.raises(FileNotFoundError, match="no_such_file"):
            measure(str(tmp_path / "no_such_file"))
