"""Sizes of deployable files, measured one way for all of them.

raw: bytes on disk (a directory: the sum of its files). gzip: bytes after gzip level 9 with a fixed
header (a directory: of a tar of it with sorted names and zeroed times and owners), so the same
content always gives the same figure and a SavedModel directory compares fairly with a file.
"""

from __future__ import annotations

import gzip
import io
import os
import tarfile


def gzip_size(content: bytes) -> int:
    """Bytes after gzip at level 9 with a fixed header: the same input, the same figure."""
    return len(gzip.compress(content, compresslevel=9, mtime=0))


def raw_bytes(path: str) -> int:
    if os.path.isdir(path):
        return sum(
            os.path.getsize(os.path.join(root, name))
            for root, _, names in os.walk(path) for name in names
        )
    if not os.path.isfile(path):
        raise FileNotFoundError(f"No file or directory {path}")
    return os.path.getsize(path)


def gzip_bytes(path: str) -> int:
    if os.path.isfile(path):
        with open(path, "rb") as f:
            return gzip_size(f.read())
    if not os.path.isdir(path):
        raise FileNotFoundError(f"No file or directory {path}")
    return gzip_size(_deterministic_tar(path))


def _deterministic_tar(directory: str) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for root, dirs, names in os.walk(directory):
            dirs.sort()
            for name in sorted(names):
                path = os.path.join(root, name)
                info = tar.gettarinfo(path, arcname=os.path.relpath(path, directory))
                info.mtime = info.uid = info.gid = 0
                info.uname = info.gname = ""
                with open(path, "rb") as f:
                    tar.addfile(info, f)
    return buffer.getvalue()
