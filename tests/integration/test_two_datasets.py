"""Two datasets in one TFDS data_dir, checked by content against their original files.

The `prepared_data_dir` fixture prepares MNIST and then Fashion-MNIST into one data_dir from the
real files: the order in which Fashion-MNIST once silently got MNIST's images (both datasets' files
have the same names, and TFDS's extraction directory was keyed by file name). Every example the
ExampleGen writes is looked up, image and label, in the original IDX files parsed with numpy
alone, so the check does not trust TFDS.
"""

from __future__ import annotations

import hashlib
import os

import numpy as np
import pytest
import tensorflow_datasets as tfds

from components.tfds_example_gen import tfds_source
from tests.support import idx_arrays, read_split

pytestmark = pytest.mark.integration
OTHER = {"mnist": "fashion_mnist", "fashion_mnist": "mnist"}
LIMIT = 2_000  # examples per split: every one is checked


def _digests(images: np.ndarray) -> list[bytes]:
    return [hashlib.sha256(row.tobytes()).digest() for row in images]


def _labels_by_image(manual_dir, prefix: str) -> dict[bytes, set[int]]:
    images, labels = idx_arrays(manual_dir, prefix)
    found: dict[bytes, set[int]] = {}
    for digest, label in zip(_digests(images), labels.tolist(), strict=True):
        found.setdefault(digest, set()).add(label)
    return found


@pytest.mark.parametrize("dataset", ["mnist", "fashion_mnist"])
def test_each_dataset_in_a_shared_data_dir_holds_its_own_images(
    dataset, run_example_gen, prepared_data_dir, mnist_manual_dir, fashion_mnist_manual_dir
):
    manual = {"mnist": mnist_manual_dir, "fashion_mnist": fashion_mnist_manual_dir}
    examples = run_example_gen(dataset=dataset, data_dir=prepared_data_dir,
                               manual_dir=str(manual[dataset]), example_limit=LIMIT)

    for split, prefix in (("train", "train"), ("eval", "t10k")):
        written = read_split(examples, split)
        assert len(written) == LIMIT
        images = np.array([e.features.feature["image"].int64_list.value for e in written],
                          np.uint8)
        labels = [e.features.feature["label"].int64_list.value[0] for e in written]
        own = _labels_by_image(manual[dataset], prefix)
        other = _labels_by_image(manual[OTHER[dataset]], prefix)
        digests = _digests(images)
        assert all(d in own for d in digests), f"{split}: images not from {dataset}'s files"
        assert not any(d in other for d in digests), f"{split}: {OTHER[dataset]}'s images"
        assert all(label in own[d] for d, label in zip(digests, labels, strict=True))

    properties = examples.mlmd_artifact.custom_properties
    assert properties["tfds_dataset"].string_value == dataset
    builder = tfds.builder(dataset, data_dir=prepared_data_dir)
    assert properties["input_fingerprint"].string_value == tfds_source.fingerprint(builder)


def test_each_dataset_version_extracts_into_its_own_directory(prepared_data_dir):
    fingerprints = set()
    for dataset in ("mnist", "fashion_mnist"):
        builder = tfds.builder(dataset, data_dir=prepared_data_dir)
        extracted = os.path.join(tfds_source.download_dir(builder), "extracted")
        assert extracted == os.path.join(prepared_data_dir, "downloads", dataset, "3.0.1",
                                         "extracted")
        assert len(os.listdir(extracted)) == 4  # the four files, extracted from this dataset's
        fingerprints.add(tfds_source.fingerprint(builder))
    assert len(fingerprints) == 2
    # Nothing in TFDS's shared default, where the second dataset found the first one's files.
    assert not os.path.exists(os.path.join(prepared_data_dir, "downloads", "extracted"))
