"""TfdsExampleGen's executor on TFDS mock data: counts, features, determinism, options."""

from __future__ import annotations

import os

import pytest
import tensorflow_datasets as tfds

from components.tfds_example_gen.deterministic_write import shard_file_name
from tests.support import read_split

NUM_MOCK_EXAMPLES = 24


@pytest.fixture(autouse=True)
def mock_tfds():
    with tfds.testing.mock_data(num_examples=NUM_MOCK_EXAMPLES):
        yield


def _custom(examples, name):
    return examples.mlmd_artifact.custom_properties[name]


@pytest.mark.parametrize("dataset", ["mnist", "fashion_mnist"])
def test_writes_train_and_eval_splits_with_image_and_label(
    run_example_gen, placeholder_manual_dir, dataset
):
    examples = run_example_gen(dataset=dataset, manual_dir=placeholder_manual_dir, num_shards=3)

    assert examples.split_names == '["train", "eval"]'
    for split in ("train", "eval"):
        files = sorted(os.listdir(os.path.join(examples.uri, f"Split-{split}")))
        assert files == [shard_file_name(i, 3) for i in range(3)]
        records = read_split(examples, split)
        assert len(records) == NUM_MOCK_EXAMPLES
        assert _custom(examples, f"num_examples_{split}").int_value == NUM_MOCK_EXAMPLES
        for record in records:
            features = record.features.feature
            assert set(features) == {"image", "label"}
            pixels = features["image"].int64_list.value
            assert len(pixels) == 28 * 28
            assert all(0 <= p <= 255 for p in pixels)
            assert list(features["label"].int64_list.value) in [[c] for c in range(10)]
    assert _custom(examples, "tfds_dataset").string_value == dataset
    assert _custom(examples, "tfds_version").string_value == "3.0.1"  # both datasets' TFDS version
    assert _custom(examples, "payload_format").string_value == "FORMAT_TF_EXAMPLE"


def test_same_inputs_give_byte_identical_files(run_example_gen, placeholder_manual_dir):
    first = run_example_gen(manual_dir=placeholder_manual_dir)
    second = run_example_gen(manual_dir=placeholder_manual_dir)

    def contents(examples):
        out = {}
        for root, _, files in os.walk(examples.uri):
            for name in files:
                path = os.path.join(root, name)
                with open(path, "rb") as f:
                    out[os.path.relpath(path, examples.uri)] = f.read()
        return out

    first_files, second_files = contents(first), contents(second)
    assert len(first_files) == 8
    assert first_files == second_files


@pytest.mark.parametrize("limit", [1, 5])
def test_example_limit_caps_every_split(run_example_gen, placeholder_manual_dir, limit):
    examples = run_example_gen(manual_dir=placeholder_manual_dir, example_limit=limit)

    assert len(read_split(examples, "train")) == limit
    assert len(read_split(examples, "eval")) == limit
    assert _custom(examples, "num_examples_eval").int_value == limit


def test_hash_buckets_resplit_all_examples(run_example_gen, placeholder_manual_dir):
    examples = run_example_gen(
        manual_dir=placeholder_manual_dir, hash_buckets={"train": 3, "validation": 1}
    )

    assert examples.split_names == '["train", "validation"]'
    train, validation = read_split(examples, "train"), read_split(examples, "validation")
    # mock_data answers any split expression, `train+test` included, with NUM_MOCK_EXAMPLES.
    assert len(train) + len(validation) == NUM_MOCK_EXAMPLES
    assert len(train) > len(validation) > 0
    assert not {r.SerializeToString() for r in train} & {r.SerializeToString() for r in validation}
