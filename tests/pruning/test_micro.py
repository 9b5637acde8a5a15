"""The micro file in TFLite Micro's own interpreter: arena, classes, C source, bad files."""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras

from pruning.compression import files, micro, tflite
from pruning.compression.report import MICRO_FILE, MICRO_NAME, CompressionReport
from tests.pruning.helpers import tiny_model

FIXTURE = Path(__file__).parent / "data" / "report.json"


def images(n: int, seed: int = 5) -> np.ndarray:
    return np.random.default_rng(seed).random((n, 28, 28), dtype=np.float32)


@pytest.fixture(scope="module")
def micro_dir(tmp_path_factory) -> str:
    """A tiny CNN's micro file and its C source, written as the exporter writes them."""
    out = str(tmp_path_factory.mktemp("micro"))
    keras.utils.set_random_seed(1)
    files.write_micro_files(tiny_model(), out, images(20))
    return out


def test_the_micro_file_keeps_the_convolutions_own_form(micro_dir):
    content = Path(micro_dir, MICRO_FILE).read_bytes()
    kernels = {tensor.shape for tensor in tflite.stored_tensors(content)}
    assert (8, 5, 5, 1) in kernels  # conv1 as built: 8 filters of 5x5 on one channel
    assert not any(len(shape) == 4 and shape[1:3] == (3, 3) and shape[3] == 4
                   for shape in kernels)  # not the space-to-depth form (4 input phases)


def test_the_smallest_arena_runs_and_one_step_less_does_not(micro_dir):
    path = os.path.join(micro_dir, MICRO_FILE)
    arena = micro.smallest_arena(path)
    assert arena % micro.ARENA_ALIGNMENT == 0
    assert micro.runs_in(path, arena)
    assert not micro.runs_in(path, arena - micro.ARENA_ALIGNMENT)


def test_tflite_micro_gives_litert_s_classes_on_the_same_file(micro_dir):
    path = os.path.join(micro_dir, MICRO_FILE)
    batch = images(200, seed=9)
    run = micro.measure(path, batch, latency_runs=5)
    litert = tflite.TfliteModel(Path(path).read_bytes())
    expected = np.array([int(np.argmax(litert.scores(image))) for image in batch])
    assert run.predictions.shape == (200,)
    # Two runtimes' integer kernels may round a near-tie differently, rarely.
    assert np.mean(run.predictions == expected) >= 0.98
    reference = tflite.TfliteModel(Path(path).read_bytes(), reference=True)
    assert reference.kernels == "reference"
    on_reference = np.array([int(np.argmax(reference.scores(image))) for image in batch])
    assert np.mean(run.predictions == on_reference) >= 0.98
    assert run.flash_bytes == os.path.getsize(path)
    assert run.latency_ms is not None and run.latency_ms > 0


@pytest.mark.skipif(shutil.which("g++") is None, reason="needs g++")
def test_the_c_source_compiles_and_holds_the_file_byte_for_byte(micro_dir, tmp_path):
    header = Path(micro_dir, f"{MICRO_NAME}.h").read_text()
    source = Path(micro_dir, f"{MICRO_NAME}.cc").read_text()
    array = re.search(r"extern const unsigned char (\w+)\[\]", header).group(1)
    length = re.search(r"extern const int (\w+);", header).group(1)
    assert "alignas(" in source or "aligned" in source  # TFLM reads the flatbuffer in place
    main = tmp_path / "main.cc"
    prefix = f"{MICRO_NAME.upper()}_INPUT"
    main.write_text(
        f'#include <cstdio>\n#include "{MICRO_NAME}.h"\n'
        f"int main() {{ fwrite({array}, 1, {length}, stdout);\n"
        f'  fprintf(stderr, "%d %d %d %.9g %d", {prefix}_HEIGHT, {prefix}_WIDTH, '
        f"{prefix}_CHANNELS, (double){prefix}_SCALE, {prefix}_ZERO_POINT); return 0; }}\n")
    binary = tmp_path / "dump"
    subprocess.run(["g++", "-std=c++17", "-I", micro_dir, str(main),
                    os.path.join(micro_dir, f"{MICRO_NAME}.cc"), "-o", str(binary)], check=True)
    done = subprocess.run([str(binary)], capture_output=True, check=True)
    assert done.stdout == Path(micro_dir, MICRO_FILE).read_bytes()
    # The input constants are the ones LiteRT's interpreter reads from the same file.
    height, width, channels, scale, zero_point = done.stderr.decode().split()
    detail = tf.lite.Interpreter(model_content=done.stdout).get_input_details()[0]
    assert [int(height), int(width), int(channels)] == [28, 28, 1]
    assert int(height) * int(width) * int(channels) == np.prod(detail["shape"][1:])
    assert float(scale) == pytest.approx(detail["quantization"][0], rel=1e-6)
    assert int(zero_point) == detail["quantization"][1]


@pytest.mark.parametrize("kind", ["float", "dynamic_int8", "int8"])
def test_the_input_contract_is_what_litert_reads_from_the_file(kind):
    """A 20x24x3 input, so no dimension can stand in for another."""
    keras.utils.set_random_seed(2)
    model = keras.Sequential([keras.Input((20, 24, 3)), keras.layers.Conv2D(4, 3),
                              keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(5)])
    representative = np.random.default_rng(3).random((8, 20, 24, 3), dtype=np.float32)
    content = tflite.convert(model, kind, representative)
    contract = tflite.input_contract(content)
    detail = tf.lite.Interpreter(model_content=content).get_input_details()[0]
    assert contract.shape == tuple(detail["shape"]) == (1, 20, 24, 3)
    assert contract.dtype == np.dtype(detail["dtype"]).name
    if kind == "int8":
        assert contract.dtype == "int8"
        assert (contract.scale, contract.zero_point) == (
            pytest.approx(detail["quantization"][0], rel=1e-7), detail["quantization"][1])
        # The extremes of a pixel land on the ends of int8's range.
        assert contract.encode(0) == contract.zero_point
        assert -128 <= contract.encode(255) <= 127
    else:
        assert contract.dtype == "float32" and contract.scale is None
        assert contract.encode(255) == 1.0


@pytest.fixture(scope="module")
def top_k_file(tmp_path_factory) -> str:
    """A file with TOPK_V2, an operator TFLite Micro has no kernel for."""
    @tf.function(input_signature=[tf.TensorSpec((1, 8), tf.float32)])
    def top_k(x):
        return tf.math.top_k(x, 3).values

    content = tf.lite.TFLiteConverter.from_concrete_functions(
        [top_k.get_concrete_function()]).convert()
    path = tmp_path_factory.mktemp("topk") / "topk.tflite"
    path.write_bytes(content)
    return str(path)


def test_a_missing_operator_is_named(top_k_file):
    with pytest.raises(micro.MicroError, match="no kernel for TOPK_V2") as raised:
        micro.smallest_arena(top_k_file)
    assert raised.value.missing_operators == ("TOPK_V2",)


def test_an_arena_too_small_is_an_error_not_a_crash(micro_dir):
    with pytest.raises(micro.MicroError, match="in a 64-byte arena"):
        micro.check(os.path.join(micro_dir, MICRO_FILE), 64)


def test_the_export_goes_on_without_figures_when_tflite_micro_cannot_run_it(
        monkeypatch, tmp_path, caplog):
    def lacks_an_operator(path, *args, **kwargs):
        raise micro.MicroError("TFLM cannot run pruned_micro.tflite: it has no kernel for X",
                               ("X",))

    monkeypatch.setattr(micro, "measure", lacks_an_operator)
    model = tiny_model()
    figures, error, measured = files.measure_micro(
        model, model, str(tmp_path), images(8), images(4), np.zeros(4, np.int64), 0,
        lambda _: None)
    assert measured == {}
    assert error == "TFLM cannot run pruned_micro.tflite: it has no kernel for X"
    assert "no kernel for X" in caplog.text
    assert figures == {"flash_bytes_micro": os.path.getsize(tmp_path / MICRO_FILE)}
    assert (tmp_path / f"{MICRO_NAME}.cc").exists()


def test_the_report_says_whether_each_micro_file_fits_and_which_file_wins(monkeypatch):
    from pruning.compression import documents
    from pruning.compression.report import MicroFile

    report = CompressionReport.from_json(FIXTURE.read_text())
    report = dataclasses.replace(report, micro_files={
        "pruned_micro": MicroFile(15_016, 6_256, 0.5),
        "baseline_micro": MicroFile(483_000, 15_600, 3.9)})
    rows = dict(documents.micro_rows(report))
    assert rows["pruned_micro.tflite on a 64 KB-flash, 16 KB-RAM microcontroller"].startswith(
        "within its 16,384 bytes of flash and 8,192 of arena")
    assert rows["baseline_micro.tflite on a 64 KB-flash, 16 KB-RAM microcontroller"].startswith(
        "OVER")
    best = {row[0]: row[1:] for row in documents.best_rows(report)}
    assert best["TFLite Micro int8"] == ["pruned_micro.tflite (15,016)",
                                         "pruned_micro.tflite (0.5000)"]
    assert set(best) == {"LiteRT float", "LiteRT int8", "TFLite Micro int8"}
    again = CompressionReport.from_json(report.to_json())
    assert again.micro_files == report.micro_files
