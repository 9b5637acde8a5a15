"""Bad input fails early and clearly: missing or corrupt source files, bad parameters."""

from __future__ import annotations

import shutil
import types
from pathlib import Path

import pytest
import tensorflow_datasets as tfds
from tensorflow_datasets.core.download.download_manager import NonMatchingChecksumError

from components import splits
from components.tfds_example_gen import tfds_source
from components.tfds_example_gen.component import TfdsExampleGen
from tests.support import MNIST_FILES


@pytest.fixture
def no_network(monkeypatch):
    """Fails the test if TFDS starts a real download (files found in manual_dir are not one)."""

    def refuse(*args, **kwargs):
        raise AssertionError("TFDS tried to download from the network")

    monkeypatch.setattr(tfds.download.DownloadManager, "_download", refuse)


@pytest.mark.parametrize("manual_dir", [None, "empty"])
def test_no_data_fails_before_any_download_naming_the_files(
    run_example_gen, tmp_path, no_network, manual_dir
):
    if manual_dir:
        manual_dir = str(tmp_path / manual_dir)
        Path(manual_dir).mkdir()
    with pytest.raises(tfds_source.ManualDataMissingError) as raised:
        run_example_gen(data_dir=str(tmp_path / "tfds"), manual_dir=manual_dir)

    message = str(raised.value)
    for name in MNIST_FILES:
        assert name in message
    assert "manual_dir" in message and "TFDS_MANUAL_DIR" in message
    assert not (tmp_path / "tfds" / "mnist").exists()


def test_one_missing_file_is_named(run_example_gen, placeholder_manual_dir, tmp_path, no_network):
    (Path(placeholder_manual_dir) / "train-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(tfds_source.ManualDataMissingError, match=r"lacks train-labels-idx1-ubyte"):
        run_example_gen(data_dir=str(tmp_path / "tfds"), manual_dir=placeholder_manual_dir)


def test_corrupt_file_fails_tfds_checksum_naming_the_file(run_example_gen, tmp_path, no_network):
    manual = tmp_path / "corrupt"
    manual.mkdir()
    for name in MNIST_FILES:
        (manual / name).write_bytes(b"not the MNIST file " + name.encode())
    with pytest.raises(tfds_source.SourceChecksumError) as raised:
        run_example_gen(data_dir=str(tmp_path / "tfds"), manual_dir=str(manual))
    message = str(raised.value)
    assert f"in {manual} is not the original file of TFDS mnist 3.0.1" in message
    assert "Replace it with the original" in message
    assert any(f"{name}: " in message and "bytes, SHA-256 " in message for name in MNIST_FILES)
    assert isinstance(raised.value.__cause__, NonMatchingChecksumError)  # TFDS's own error
    assert "http" not in message  # no download address: the data is offline


@pytest.mark.integration
def test_truncated_real_file_fails_checksum_naming_it_and_the_original(
    run_example_gen, mnist_manual_dir, tmp_path, no_network
):
    manual = tmp_path / "truncated"
    shutil.copytree(mnist_manual_dir, manual)
    name = "train-labels-idx1-ubyte.gz"
    victim = manual / name
    victim.write_bytes(victim.read_bytes()[:1000])
    # The original's size and SHA-256, from the real file and the data's own SHA256SUMS.
    size = (mnist_manual_dir / name).stat().st_size
    sums = dict(line.split()[::-1] for line in (mnist_manual_dir / "SHA256SUMS").read_text()
                .splitlines() if line.strip())
    with pytest.raises(tfds_source.SourceChecksumError) as raised:
        run_example_gen(data_dir=str(tmp_path / "tfds"), manual_dir=str(manual))
    assert str(raised.value).startswith(f"{name} in {manual} is not the original file")
    assert f"({name}: {size:,} bytes, SHA-256 {sums[name]})" in str(raised.value)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"dataset": "no_such_dataset"}, "Unknown TFDS dataset 'no_such_dataset'"),
        ({"example_limit": 0}, "example_limit must be >= 1 or None, got 0"),
        ({"num_shards": 0}, "num_shards must be >= 1, got 0"),
        ({"splits": {}}, "splits must name at least one output split"),
        ({"splits": {"Split-1": "train"}}, "output split name 'Split-1'"),
        ({"splits": {"train": "[:10]"}}, "'\\[:10\\]' is not a TFDS split expression"),
        ({"hash_buckets": {"train": 9}},
         "re-splitting needs at least two output splits, got train"),
        ({"hash_buckets": {"train": 9, "eval": 0}},
         "split 'eval' needs at least 1 hash bucket, got 0"),
    ],
)
def test_bad_parameters_fail_at_construction(kwargs, message):
    with pytest.raises(ValueError, match=message):
        TfdsExampleGen(**kwargs)


def test_unknown_split_names_the_available_ones():
    builder = types.SimpleNamespace(name="mnist", info=types.SimpleNamespace(
        splits={"train": None, "test": None}))
    tfds_source.check_split(builder, "train[:10%]+test")  # Known: no error.
    with pytest.raises(ValueError, match=r"no split validation .*available: test, train"):
        tfds_source.check_split(builder, "validation")


@pytest.mark.parametrize(
    ("expression", "names"),
    [("train", ["train"]), ("train[:10%]+test", ["train", "test"]), ("test[5:]", ["test"]),
     ("train[-1000:]", ["train"]), ("test[10:20]+train[:1%]", ["test", "train"]),
     ("train[:33%](pct1_dropremainder)", ["train"])],
)
def test_split_names_of_tfds_expressions(expression, names):
    assert splits.split_names(expression) == names


@pytest.mark.parametrize("expression", ["test[", "[:10]", "train[a:b]", "train+", "train[:10]x",
                                        "train test"])
def test_malformed_split_expressions_are_named(expression):
    with pytest.raises(ValueError, match="is not a TFDS split expression"):
        splits.split_names(expression)


def test_records_lost_by_the_runner_fail_the_execution(run_example_gen, tmp_path, monkeypatch,
                                                       placeholder_manual_dir):
    from components.tfds_example_gen import executor

    real_count = executor.count_records
    monkeypatch.setattr(executor, "count_records", lambda directory: real_count(directory) - 1)
    with tfds.testing.mock_data(num_examples=8), pytest.raises(
        RuntimeError, match=r"Split 'train': 8 examples were read but 7 written.*in_memory"
    ):
        run_example_gen(data_dir=str(tmp_path / "tfds"), manual_dir=placeholder_manual_dir)
