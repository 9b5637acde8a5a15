"""CompressExporter's executor on tiny models: files, sizes, TFLite accuracy, report, MLMD."""

from __future__ import annotations

import dataclasses
import os

import numpy as np
import pytest
from PIL import Image
from tfx.types import Channel, standard_artifacts

from components import model_artifact, properties
from components.compress_exporter import CompressExporter, CompressionReport, executor, spec
from pruning import data
from pruning.compression import documents, tflite
from pruning.compression import report as report_lib
from pruning.compression.report import FIGURE, CompressionSummary
from pruning.compression.report import CompressionReport as Report
from pruning.model import cnn
from pruning.params import CompressionParams, TrainingParams
from pruning.training.metrics import Metrics
from tests.components.support import SPLIT_SIZES, TINY_MODEL
from tests.pruning.helpers import tflite_ops
from tests.support import litert_correct

EXPECTED_FILES = {
    f"{model}{suffix}"
    for model in ("baseline", "pruned")
    for suffix in ("_saved_model", ".keras", "_float.tflite", "_dynamic_int8.tflite",
                   "_int8.tflite")
}
# The micro file, its C source, and the baseline's micro file (written to time it).
MICRO_FILES = {report_lib.MICRO_FILE, f"{report_lib.MICRO_NAME}.h",
               f"{report_lib.MICRO_NAME}.cc", report_lib.BASELINE_MICRO_FILE}
LATENCY_RUNS = 3
REPRESENTATIVE = 16


def write_pruned_model(directory) -> standard_artifacts.Model:
    """A Model artifact holding the tiny CNN with 90 % of every kernel set to zero."""
    import tf_keras as keras

    keras.utils.set_random_seed(1)
    model = cnn.build_model(params=TINY_MODEL)
    for layer in model.layers:
        if hasattr(layer, "kernel"):
            kernel = layer.kernel.numpy()
            kernel[np.abs(kernel) < np.quantile(np.abs(kernel), 0.9)] = 0
            layer.kernel.assign(kernel)
    artifact = standard_artifacts.Model()
    artifact.uri = str(directory)
    model_artifact.write_model(artifact.uri, model, Metrics(0.1, 2.3, 32), {})
    return artifact


def exec_properties(eval_split: str = "eval", training: TrainingParams | None = None,
                    **overrides) -> dict:
    compression = CompressionParams(**{"representative_examples": REPRESENTATIVE,
                                       "latency_runs": LATENCY_RUNS, **overrides})
    component = CompressExporter(
        baseline_model=Channel(type=standard_artifacts.Model),
        model=Channel(type=standard_artifacts.Model),
        examples=Channel(type=standard_artifacts.Examples),
        compression=compression,
        training=training,
        eval_split=eval_split,
    )
    return dict(component.exec_properties)


def _blessing(root, blessed: int) -> standard_artifacts.ModelBlessing:
    blessing = standard_artifacts.ModelBlessing()
    blessing.uri = str(root / "blessing")
    blessing.set_int_custom_property(properties.BLESSED, blessed)
    return blessing


def _outputs(root) -> dict:
    compressed, report_artifact = standard_artifacts.Model(), CompressionReport()
    compressed.uri = str(root / "compressed")
    report_artifact.uri = str(root / "report")
    return {spec.COMPRESSED_KEY: [compressed], spec.REPORT_KEY: [report_artifact]}


def _read_report(report_artifact) -> Report:
    with open(os.path.join(report_artifact.uri, documents.REPORT_JSON)) as f:
        return Report.from_json(f.read())


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
    return compressed, report_artifact, _read_report(report_artifact)


def test_every_file_is_written_and_measured(exported):
    compressed, _, report = exported
    assert set(os.listdir(compressed.uri)) == EXPECTED_FILES | MICRO_FILES | {spec.SERVING_DIR}
    files = {f.file: f for f in report.files}
    assert set(files) == EXPECTED_FILES
    for record in files.values():
        assert record.raw_bytes > 0 and record.gzip_bytes > 0
    # A 90 %-zero model compresses; the dense baseline barely does.
    for name in ("pruned_float.tflite", "pruned_int8.tflite", "pruned.keras"):
        assert files[name].gzip_bytes < 0.5 * files[name].raw_bytes
    assert files["pruned_int8.tflite"].raw_bytes == os.path.getsize(
        os.path.join(compressed.uri, "pruned_int8.tflite"))
    # Sparsity survived conversion: the stored kernels hold the Keras model's zeros.
    assert files["pruned_float.tflite"].weight_sparsity == pytest.approx(0.9, abs=0.01)
    assert report.models["pruned"].kernel_sparsity == pytest.approx(0.9, abs=0.01)
    assert files["baseline_float.tflite"].weight_sparsity < 0.01


def test_the_micro_file_is_measured_in_tflite_micro(exported, tiny_inputs):
    compressed, _, report = exported
    summary = report.summary
    path = os.path.join(compressed.uri, report_lib.MICRO_FILE)
    assert summary.flash_bytes_micro == os.path.getsize(path)
    assert summary.arena_bytes_micro > 0 and summary.arena_bytes_micro % 16 == 0
    assert summary.latency_ms_micro_pruned > 0 and summary.latency_ms_micro_baseline > 0
    assert report.micro_error is None
    # A second code path: LiteRT on the same file, inputs quantized by hand; the two runtimes
    # differ on at most the images where their classes differ.
    images, labels = data.read_split(tiny_inputs[0].uri, "eval")
    litert = _direct_accuracy(path, images, labels)
    assert abs(summary.micro_accuracy - litert) <= 1 - summary.micro_litert_agreement + 1e-9
    assert summary.micro_litert_agreement >= 0.9
    assert summary.micro_litert_reference_agreement >= 0.9


def _direct_accuracy(path: str, images: np.ndarray, labels: np.ndarray) -> float:
    """Accuracy of a TFLite file run straight through LiteRT, quantizing by hand."""
    with open(path, "rb") as f:
        return litert_correct(f.read(), images, labels) / len(labels)


def test_tflite_accuracy_is_that_of_a_direct_run_on_the_whole_eval_split(exported, tiny_inputs):
    compressed, _, report = exported
    images, labels = data.read_split(tiny_inputs[0].uri, "eval")
    assert len(labels) == SPLIT_SIZES["eval"] == report.num_eval_examples
    for record in report.files:
        if record.format.startswith("tflite_"):
            path = os.path.join(compressed.uri, record.file)
            assert record.accuracy == _direct_accuracy(path, images, labels), record.file
            assert record.loss > 0


def test_report_holds_every_figure_and_valid_plots(exported):
    _, report_artifact, report = exported
    summary = report.summary
    unset = {f.name for f in dataclasses.fields(summary) if getattr(summary, f.name) is None}
    assert unset == {"pqat_int8_tflite_accuracy", "gzip_bytes_pruned_pqat_int8_tflite"}
    assert summary.blessed is True
    baseline_float, pruned_int8 = (report.file("baseline", "tflite_float"),
                                   report.file("pruned", "tflite_int8"))
    assert summary.compression_ratio == pytest.approx(
        baseline_float.gzip_bytes / pruned_int8.gzip_bytes)
    assert summary.int8_tflite_accuracy == pruned_int8.accuracy
    assert summary.int8_accuracy_drop_pp == pytest.approx(
        (report.models["baseline"].accuracy - pruned_int8.accuracy) * 100, abs=0.006)
    assert set(report.latency_ms) == {"baseline_float", "baseline_int8", "pruned_float",
                                      "pruned_int8", "pruned_float_sparse"}
    assert all(v > 0 for v in report.latency_ms.values())
    assert summary.quantization_speedup == pytest.approx(
        report.latency_ms["pruned_float"] / report.latency_ms["pruned_int8"])
    # Baseline against pruned at each precision, the sizes as the files on disk have them.
    compressed_uri = exported[0].uri
    raw = {name: os.path.getsize(os.path.join(compressed_uri, f"{name}_int8.tflite"))
           for name in ("baseline", "pruned")}
    assert (summary.raw_bytes_baseline_int8_tflite, summary.raw_bytes_pruned_int8_tflite) == (
        raw["baseline"], raw["pruned"])
    assert summary.raw_size_ratio_int8 == pytest.approx(raw["baseline"] / raw["pruned"])
    for precision in ("float", "int8"):
        baseline, pruned = (report.latency_ms[f"{name}_{precision}"]
                            for name in ("baseline", "pruned"))
        assert getattr(summary, f"latency_ms_baseline_{precision}") == baseline
        assert getattr(summary, f"pruning_speedup_{precision}") == pytest.approx(
            baseline / pruned)
    # LiteRT's memory for each timed file: the file itself plus a heap that holds at least the
    # input image (784 int8 or float32 values).
    assert set(report.runtime_memory) == {"baseline_float", "baseline_int8", "pruned_float",
                                          "pruned_int8"}
    for key, memory in report.runtime_memory.items():
        assert memory.file_bytes == os.path.getsize(os.path.join(compressed_uri,
                                                                 f"{key}.tflite")), key
        assert memory.heap_bytes >= 784, key
    assert summary.memory_bytes_pruned_int8 == report.runtime_memory["pruned_int8"].total_bytes
    assert report.num_representative_examples == REPRESENTATIVE
    assert report.pruned_int8_tensors[0].bytes >= report.pruned_int8_tensors[-1].bytes
    for name in documents.PLOTS.values():
        with Image.open(os.path.join(report_artifact.uri, name)) as image:
            assert image.format == "PNG" and min(image.size) > 100
    with open(os.path.join(report_artifact.uri, documents.REPORT_MD)) as f:
        markdown = f.read()
    with open(os.path.join(report_artifact.uri, documents.REPORT_HTML)) as f:
        html = f.read()
    ratio = f"{summary.compression_ratio:.1f}x"
    assert ratio in markdown and ratio in html
    assert all(name in html for name in documents.PLOTS.values())


def test_the_report_reads_back_as_it_was_written(exported):
    _, _, report = exported
    assert Report.from_json(report.to_json()) == report


def test_every_summary_figure_is_a_property_of_both_outputs(exported):
    compressed, report_artifact, report = exported
    for field in dataclasses.fields(CompressionSummary):  # each a figure, declared there once
        value = getattr(report.summary, field.name)
        for artifact in (compressed, report_artifact):
            recorded = artifact.mlmd_artifact.custom_properties.get(field.name)
            if value is None:
                assert recorded is None, field.name
            elif isinstance(value, float):
                assert recorded.double_value == pytest.approx(value), field.name
            else:
                assert recorded.int_value == int(value), field.name


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


def test_a_missing_split_fails_before_any_model_is_read(tiny_inputs, tiny_base_model, tmp_path,
                                                        monkeypatch):
    loaded = []
    monkeypatch.setattr(model_artifact, "load_model", lambda uri: loaded.append(uri))
    inputs = {
        spec.BASELINE_MODEL_KEY: [tiny_base_model],
        spec.MODEL_KEY: [tiny_base_model],
        spec.EXAMPLES_KEY: [tiny_inputs[0]],
    }
    with pytest.raises(FileNotFoundError, match="No files for split 'test'"):
        executor.Executor().Do(inputs, _outputs(tmp_path), exec_properties(eval_split="test"))
    assert loaded == []


@pytest.mark.parametrize(
    ("overrides", "message"),
    [({"representative_examples": 0}, "representative_examples must be >= 1, got 0"),
     ({"latency_runs": -1}, "latency_runs must be >= 0, got -1"),
     ({"pqat_epochs": -1}, "pqat_epochs must be >= 0, got -1"),
     ({"pqat_learning_rate": 0.0}, "pqat_learning_rate must be > 0, got 0.0")],
)
def test_invalid_parameters_fail_before_a_component_can_be_built(overrides, message):
    with pytest.raises(ValueError, match=message):
        CompressionParams(**overrides)


def test_invalid_parameters_in_a_spec_fail_before_any_model_is_read(tmp_path):
    """A spec edited by hand (a compiled Kubeflow pipeline, say) reaches the executor
    unvalidated: it refuses the value, naming it, before it reads any input."""
    properties = exec_properties()
    properties[spec.COMPRESSION_KEY] = properties[spec.COMPRESSION_KEY].replace(
        f'"latency_runs": {LATENCY_RUNS}', '"latency_runs": -1')
    assert '"latency_runs": -1' in properties[spec.COMPRESSION_KEY]
    missing = standard_artifacts.Model()
    missing.uri = str(tmp_path / "no_model_here")
    examples = standard_artifacts.Examples()
    examples.uri = str(tmp_path / "no_examples_here")
    with pytest.raises(ValueError, match="latency_runs must be >= 0, got -1"):
        executor.Executor().Do({spec.BASELINE_MODEL_KEY: [missing], spec.MODEL_KEY: [missing],
                                spec.EXAMPLES_KEY: [examples]}, _outputs(tmp_path), properties)


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
    report = _read_report(output_dict[spec.REPORT_KEY][0])
    pqat = report.file("pruned", "tflite_pqat_int8")
    path = os.path.join(compressed.uri, "pruned_pqat_int8.tflite")
    images, labels = data.read_split(examples.uri, "eval")
    assert pqat.accuracy == _direct_accuracy(path, images, labels)
    # The prune-preserving quantizer kept the 90 % zeros through training and conversion. Against
    # the float file: the post-training int8 file also stores the zero taps of its space-to-depth
    # form, which the PQAT file (not rewritten) lacks.
    float_file = report.file("pruned", "tflite_float")
    assert float_file.weight_sparsity == pytest.approx(0.9, abs=0.01)
    assert pqat.weight_sparsity >= float_file.weight_sparsity - 0.005
    assert report.summary.pqat_int8_tflite_accuracy == pqat.accuracy
    assert compressed.get_int_custom_property(
        FIGURE.gzip_bytes_pruned_pqat_int8_tflite) == pqat.gzip_bytes
    assert report.latency_ms == {} and report.summary.quantization_speedup is None


def test_pqat_trains_with_the_given_seed_and_batch_size(tiny_inputs, tiny_base_model, tmp_path,
                                                       monkeypatch):
    from pruning.compression import qat

    class Stop(Exception):
        pass

    seen = {}

    def recording(model, images, labels, params, *, batch_size, seed):
        seen.update(batch_size=batch_size, seed=seed, examples=len(images))
        raise Stop

    monkeypatch.setattr(qat, "pqat_fine_tune", recording)
    examples, _ = tiny_inputs
    inputs = {spec.BASELINE_MODEL_KEY: [tiny_base_model],
              spec.MODEL_KEY: [write_pruned_model(tmp_path / "pruned")],
              spec.EXAMPLES_KEY: [examples]}
    with pytest.raises(Stop):
        executor.Executor().Do(inputs, _outputs(tmp_path), exec_properties(
            pqat_epochs=1, latency_runs=0, training=TrainingParams(batch_size=24, seed=7)))
    assert (seen["batch_size"], seen["seed"]) == (24, 7)
    assert (TrainingParams().batch_size, TrainingParams().seed) != (24, 7)


def test_outputs_in_a_bucket_are_written_through_gfile(tiny_inputs, tiny_base_model, tmp_path):
    """Kubeflow's artifacts live in buckets: `ram://`, which Python's own file functions cannot
    reach, stands for one. The int8 file read back from there runs the 4x4 space-to-depth form
    of the narrow model (conv1 of 8 filters) and gives the report's accuracy."""
    import tensorflow as tf

    examples, _ = tiny_inputs
    inputs = {spec.BASELINE_MODEL_KEY: [tiny_base_model],
              spec.MODEL_KEY: [write_pruned_model(tmp_path / "pruned")],
              spec.EXAMPLES_KEY: [examples]}
    compressed, report_artifact = standard_artifacts.Model(), CompressionReport()
    compressed.uri, report_artifact.uri = "ram://bucket/compressed", "ram://bucket/report"
    executor.Executor().Do(inputs, {spec.COMPRESSED_KEY: [compressed],
                                    spec.REPORT_KEY: [report_artifact]},
                           exec_properties(latency_runs=0))

    assert set(tf.io.gfile.listdir(compressed.uri)) >= EXPECTED_FILES
    with tf.io.gfile.GFile(os.path.join(report_artifact.uri, documents.REPORT_JSON)) as f:
        report = Report.from_json(f.read())
    with tf.io.gfile.GFile(os.path.join(compressed.uri, "pruned_int8.tflite"), "rb") as f:
        content = f.read()
    assert tflite_ops(content)[1:4] == [("SPACE_TO_DEPTH", ()), ("CONV_2D", (32, 3, 3, 16)),
                                  ("CONV_2D", (16, 2, 2, 32))]
    images, labels = data.read_split(examples.uri, "eval")
    accuracy = tflite.TfliteModel(content).evaluate(images, labels).accuracy
    assert accuracy == report.file("pruned", "tflite_int8").accuracy
