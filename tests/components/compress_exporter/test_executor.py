"""CompressExporter's executor on tiny models: files, sizes, TFLite accuracy, report, MLMD."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from ai_edge_litert.interpreter import Interpreter
from PIL import Image
from tfx.types import standard_artifacts

from components import model_io
from components.compress_exporter import CompressExporter, CompressionReport, executor, spec
from pruning import data, models, report
from pruning.evaluate import Metrics
from tests.components.conftest import SPLIT_SIZES, TINY_MODEL

EXPECTED_FILES = {
    f"{model}{suffix}"
    for model in ("baseline", "pruned")
    for suffix in ("_saved_model", ".keras", "_float.tflite", "_dynamic_int8.tflite",
                   "_int8.tflite")
}
LATENCY_RUNS = 3
REPRESENTATIVE = 16


def write_pruned_model(directory) -> standard_artifacts.Model:
    """A Model artifact holding the tiny CNN with 90 % of every kernel set to zero."""
    import tf_keras as keras

    keras.utils.set_random_seed(1)
    model = models.build_model(TINY_MODEL)
    for layer in model.layers:
        if hasattr(layer, "kernel"):
            kernel = layer.kernel.numpy()
            kernel[np.abs(kernel) < np.quantile(np.abs(kernel), 0.9)] = 0
            layer.kernel.assign(kernel)
    artifact = standard_artifacts.Model()
    artifact.uri = str(directory)
    model_io.write_model(artifact.uri, model, Metrics(0.1, 2.3, 32), {})
    return artifact


def exec_properties(**overrides) -> dict:
    arguments = {"representative_examples": REPRESENTATIVE, "latency_runs": LATENCY_RUNS,
                 **overrides}
    component = CompressExporter(
        baseline_model=_channel(standard_artifacts.Model),
        model=_channel(standard_artifacts.Model),
        examples=_channel(standard_artifacts.Examples),
        **arguments,
    )
    return dict(component.exec_properties)


def _channel(artifact_type):
    from tfx.types import Channel

    return Channel(type=artifact_type)


def _blessing(root, blessed: int) -> standard_artifacts.ModelBlessing:
    blessing = standard_artifacts.ModelBlessing()
    blessing.uri = str(root / "blessing")
    blessing.set_int_custom_property("blessed", blessed)
    return blessing


def _outputs(root) -> dict:
    compressed, report_artifact = standard_artifacts.Model(), CompressionReport()
    compressed.uri = str(root / "compressed")
    report_artifact.uri = str(root / "report")
    return {spec.COMPRESSED_KEY: [compressed], spec.REPORT_KEY: [report_artifact]}


@pytest.fixture(scope="module")
def exported(tiny_inputs, tiny_base_model, tmp_path_factory):
    examples, _ = tiny_inputs
    root = tmp_path_factory.mktemp("compress")
    inputs = {
        spec.BASELINE_MODEL_KEY: [tiny_base_model],
        spec.MODEL_KEY: [write_pruned_model(root / "pruned")],
        spec.EXAMPLES_KEY: [examples],
        spec.BLESSING_KEY: [_blessing(root, 1)],
    }
    output_dict = _outputs(root)
    executor.Executor().Do(inputs, output_dict, exec_properties())
    compressed = output_dict[spec.COMPRESSED_KEY][0]
    report_artifact = output_dict[spec.REPORT_KEY][0]
    with open(os.path.join(report_artifact.uri, report.REPORT_JSON)) as f:
        return compressed, report_artifact, json.load(f)


def test_every_file_is_written_and_measured(exported):
    compressed, _, result = exported
    assert set(os.listdir(compressed.uri)) == EXPECTED_FILES | {spec.SERVING_DIR}
    files = {f["file"]: f for f in result["files"]}
    assert set(files) == EXPECTED_FILES
    for record in files.values():
        assert record["raw_bytes"] > 0 and record["gzip_bytes"] > 0
    # A 90 %-zero model compresses; the dense baseline barely does.
    for name in ("pruned_float.tflite", "pruned_int8.tflite", "pruned.keras"):
        assert files[name]["gzip_bytes"] < 0.5 * files[name]["raw_bytes"]
    assert files["pruned_int8.tflite"]["raw_bytes"] == os.path.getsize(
        os.path.join(compressed.uri, "pruned_int8.tflite"))
    # Sparsity survived conversion: the stored kernels hold the Keras model's zeros.
    assert files["pruned_float.tflite"]["weight_sparsity"] == pytest.approx(0.9, abs=0.01)
    assert result["models"]["pruned"]["kernel_sparsity"] == pytest.approx(0.9, abs=0.01)
    assert files["baseline_float.tflite"]["weight_sparsity"] < 0.01


def _direct_accuracy(path: str, images: np.ndarray, labels: np.ndarray) -> float:
    """Accuracy of a TFLite file run straight through LiteRT, quantizing by hand."""
    interpreter = Interpreter(model_path=path)
    interpreter.allocate_tensors()
    given, taken = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    correct = 0
    for image, label in zip(images, labels, strict=True):
        value = image[None].astype(np.float32)
        if given["dtype"] == np.int8:
            scale, zero = given["quantization"]
            value = np.clip(np.round(value / scale + zero), -128, 127).astype(np.int8)
        interpreter.set_tensor(given["index"], value)
        interpreter.invoke()
        correct += int(np.argmax(interpreter.get_tensor(taken["index"])[0]) == label)
    return correct / len(labels)


def test_tflite_accuracy_is_that_of_a_direct_run_on_the_whole_eval_split(exported, tiny_inputs):
    compressed, _, result = exported
    images, labels = data.read_split(tiny_inputs[0].uri, "eval")
    assert len(labels) == SPLIT_SIZES["eval"] == result["num_eval_examples"]
    for record in result["files"]:
        if record["format"].startswith("tflite_"):
            path = os.path.join(compressed.uri, record["file"])
            assert record["accuracy"] == _direct_accuracy(path, images, labels), record["file"]
            assert record["loss"] > 0


def test_report_holds_every_figure_and_valid_plots(exported):
    _, report_artifact, result = exported
    summary = result["summary"]
    for key in spec.PROPERTY_KEYS:
        assert ("pqat" in key) != (key in summary), key  # PQAT is off in this run
    assert summary["blessed"] is True
    files = {f["file"]: f for f in result["files"]}
    assert summary["compression_ratio"] == pytest.approx(
        files["baseline_float.tflite"]["gzip_bytes"] / files["pruned_int8.tflite"]["gzip_bytes"])
    assert summary["int8_tflite_accuracy"] == files["pruned_int8.tflite"]["accuracy"]
    assert set(result["latency_ms"]) == {"baseline_float", "baseline_int8", "pruned_float",
                                         "pruned_int8", "pruned_float_sparse"}
    assert all(v > 0 for v in result["latency_ms"].values())
    assert result["num_representative_examples"] == REPRESENTATIVE
    assert result["pruned_int8_tensors"][0]["bytes"] >= result["pruned_int8_tensors"][-1]["bytes"]
    for name in report.PLOTS.values():
        with Image.open(os.path.join(report_artifact.uri, name)) as image:
            assert image.format == "PNG" and min(image.size) > 100
    with open(os.path.join(report_artifact.uri, report.REPORT_MD)) as f:
        markdown = f.read()
    with open(os.path.join(report_artifact.uri, report.REPORT_HTML)) as f:
        html = f.read()
    ratio = f"{summary['compression_ratio']:.1f}x"
    assert ratio in markdown and ratio in html
    assert all(name in html for name in report.PLOTS.values())


def test_key_figures_are_custom_properties_of_both_outputs(exported):
    compressed, report_artifact, result = exported
    for artifact in (compressed, report_artifact):
        assert artifact.get_float_custom_property("compression_ratio") == pytest.approx(
            result["summary"]["compression_ratio"])
        assert artifact.get_int_custom_property("gzip_bytes_pruned_int8_tflite") == (
            result["summary"]["gzip_bytes_pruned_int8_tflite"])
        assert artifact.get_int_custom_property("blessed") == 1


def test_serving_dir_holds_what_pusher_pushes(exported):
    compressed, _, _ = exported
    serving = os.path.join(compressed.uri, spec.SERVING_DIR)
    assert {"saved_model.pb", "variables", spec.PUSHED_TFLITE} <= set(os.listdir(serving))
    with open(os.path.join(serving, spec.PUSHED_TFLITE), "rb") as pushed, open(
        os.path.join(compressed.uri, spec.PUSHED_TFLITE), "rb"
    ) as original:
        assert pushed.read() == original.read()


def test_blessing_state_reads_the_evaluator_verdict(tmp_path):
    assert executor.blessing_state({}) is None
    assert executor.blessing_state({spec.BLESSING_KEY: [_blessing(tmp_path, 0)]}) is False
    assert executor.blessing_state({spec.BLESSING_KEY: [_blessing(tmp_path, 1)]}) is True


def test_a_missing_split_fails_before_any_work(tiny_inputs, tiny_base_model, tmp_path):
    inputs = {
        spec.BASELINE_MODEL_KEY: [tiny_base_model],
        spec.MODEL_KEY: [tiny_base_model],
        spec.EXAMPLES_KEY: [tiny_inputs[0]],
    }
    with pytest.raises(FileNotFoundError, match="No files for split 'test'"):
        executor.Executor().Do(inputs, _outputs(tmp_path), exec_properties(eval_split="test"))
    assert not (tmp_path / "compressed").exists()


@pytest.mark.parametrize(
    ("overrides", "message"),
    [({"representative_examples": 0}, "representative_examples must be >= 1, got 0"),
     ({"latency_runs": -1}, "latency_runs must be >= 0, got -1"),
     ({"pqat_epochs": -1}, "pqat_epochs must be >= 0, got -1"),
     ({"pqat_learning_rate": 0.0}, "pqat_learning_rate must be > 0, got 0.0")],
)
def test_invalid_parameters_fail_when_the_pipeline_is_built(overrides, message):
    with pytest.raises(ValueError, match=message):
        exec_properties(**overrides)


def test_pqat_adds_a_trained_int8_file_that_keeps_the_zeros(tiny_inputs, tiny_base_model, tmp_path):
    examples, _ = tiny_inputs
    inputs = {
        spec.BASELINE_MODEL_KEY: [tiny_base_model],
        spec.MODEL_KEY: [write_pruned_model(tmp_path / "pruned")],
        spec.EXAMPLES_KEY: [examples],
    }
    output_dict = _outputs(tmp_path)
    executor.Executor().Do(inputs, output_dict,
                           exec_properties(pqat_epochs=1, latency_runs=0))
    compressed = output_dict[spec.COMPRESSED_KEY][0]
    with open(os.path.join(output_dict[spec.REPORT_KEY][0].uri, report.REPORT_JSON)) as f:
        result = json.load(f)
    files = {f["file"]: f for f in result["files"]}
    pqat = files["pruned_pqat_int8.tflite"]
    path = os.path.join(compressed.uri, "pruned_pqat_int8.tflite")
    images, labels = data.read_split(examples.uri, "eval")
    assert pqat["accuracy"] == _direct_accuracy(path, images, labels)
    # The prune-preserving quantizer kept the 90 % zeros through training and conversion.
    assert pqat["weight_sparsity"] >= files["pruned_int8.tflite"]["weight_sparsity"] - 0.005
    assert result["summary"]["pqat_int8_tflite_accuracy"] == pqat["accuracy"]
    assert compressed.get_int_custom_property("gzip_bytes_pruned_pqat_int8_tflite") == (
        pqat["gzip_bytes"])
    assert result["latency_ms"] == {}
