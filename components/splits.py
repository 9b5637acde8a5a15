"""Output split names and TFDS split expressions, checked without TensorFlow.

The settings (`pipelines/configs.py`) check them before TensorFlow is imported and the
TfdsExampleGen checks them again when it is built: both call these functions, so a rule lives
here once.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

# The ExampleGen's output splits, {output split: TFDS split expression}, and the TFRecord files
# it writes per split.
DEFAULT_SPLITS: Mapping[str, str] = {"train": "train", "eval": "test"}
DEFAULT_NUM_SHARDS = 4

_OUTPUT_SPLIT_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
# One part of a TFDS split expression: a split name, an optional slice of examples or percents
# (`train[10:20]`, `test[:50%]`, `train[-1000:]`) and an optional rounding (`(pct1_dropremainder)`).
_BOUND = r"-?\d+%?"
_TFDS_SPLIT_PART = re.compile(
    rf"^\s*([A-Za-z0-9_]+)\s*(\[\s*(?:{_BOUND})?\s*(?::\s*(?:{_BOUND})?\s*)?\])?"
    r"\s*(\([a-z0-9_]+\))?\s*$")


def split_names(expression: str) -> list[str]:
    """Base split names of a TFDS split expression, e.g. 'train[:10%]+test' -> ['train', 'test'];
    ValueError when it is not one."""
    names = []
    for part in expression.split("+"):
        match = _TFDS_SPLIT_PART.match(part)
        if not match:
            raise ValueError(
                f"{expression!r} is not a TFDS split expression: {part.strip()!r} must look like "
                "'train', 'train[:80%]' or 'test[1000:2000]' (parts joined with '+')")
        names.append(match.group(1))
    return names


def check_output_split(name: str) -> None:
    if not _OUTPUT_SPLIT_NAME.match(name):
        raise ValueError(f"output split name {name!r} must be an identifier like 'train'")


def check_hash_buckets(hash_buckets: Mapping[str, int]) -> None:
    """Re-splitting by example hash needs two or more named splits of one or more buckets."""
    for name, buckets in hash_buckets.items():
        check_output_split(name)
        if buckets < 1:
            raise ValueError(f"split {name!r} needs at least 1 hash bucket, got {buckets}")
    if len(hash_buckets) < 2:
        raise ValueError(f"re-splitting needs at least two output splits, got "
                         f"{', '.join(hash_buckets) or 'none'}")
