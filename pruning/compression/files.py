"""Every deployable file of a baseline and a pruned model, measured side by side.

`write_and_measure` writes, for each model, a SavedModel, a Keras file and three TFLite files
into a local directory, measures raw and gzip sizes the same way for all (`sizes`), runs each
TFLite file on the whole eval set with LiteRT, counts the zeros left in its stored kernels, and
optionally times batch-1 inference and measures the memory LiteRT needs to run each timed file.
It returns a `report.CompressionReport`.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Callable, Mapping

import numpy as np
import tf_keras as keras

from pruning import data
from pruning.compression import memory, micro, sizes, tflite
from pruning.compression.report import (
    BASELINE_MICRO_FILE,
    DEPLOYED_FILE,
    FIGURE,
    MICRO_ARENA_LIMIT,
    MICRO_FLASH_LIMIT,
    MICRO_NAME,
    MODELS,
    PQAT_FILE,
    PQAT_FLAVOUR,
    TFLITE_FLAVOURS,
    CompressionReport,
    CompressionSummary,
    FileRecord,
    MicroFile,
    ModelFigures,
    RuntimeMemory,
    drop_pp,
    saved_model_dir,
    tflite_file,
    tflite_format,
)
from pruning.model import export
from pruning.sparsity import measure, wrap
from pruning.training.metrics import evaluate

log = logging.getLogger(__name__)


def write_model_files(
    name: str, model: keras.Model, out_dir: str, representative_images: np.ndarray,
    image_format: data.ImageFormat = data.MNIST,
) -> dict[str, str]:
    """`<name>_saved_model/`, `<name>.keras` and `<name>_{float,dynamic_int8,int8}.tflite`.

    Returns {format: path}.
    """
    os.makedirs(out_dir, exist_ok=True)
    paths = {"saved_model": os.path.join(out_dir, saved_model_dir(name)),
             "keras": os.path.join(out_dir, f"{name}.keras")}
    export.export_saved_model(model, paths["saved_model"], image_format)
    model.save(paths["keras"])
    for flavour in TFLITE_FLAVOURS:
        paths[tflite_format(flavour)] = _write(
            os.path.join(out_dir, tflite_file(name, flavour)),
            tflite.convert(model, flavour, representative_images))
    return paths


def _write(path: str, content: bytes) -> str:
    with open(path, "wb") as f:
        f.write(content)
    return path


def _read(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def measure_files(
    name: str, paths: Mapping[str, str], images: np.ndarray, labels: np.ndarray
) -> list[FileRecord]:
    """Sizes of every file; accuracy, loss and stored zeros of every TFLite file."""
    records = []
    for kind, path in paths.items():
        record = FileRecord(name, kind, os.path.basename(path), sizes.raw_bytes(path),
                            sizes.gzip_bytes(path))
        if kind.startswith(tflite_format("")):
            content = _read(path)
            metrics = tflite.TfliteModel(content).evaluate(images, labels)
            zeros, values = tflite.weight_zeros(content)
            record = dataclasses.replace(record, accuracy=metrics.accuracy, loss=metrics.loss,
                                         weight_zeros=zeros, weight_values=values)
        records.append(record)
    return records


# Latency: each file runs `runs / _LATENCY_ROUNDS` times per round, the files taking turns.
_LATENCY_ROUNDS = 5


def write_micro_files(model: keras.Model, out_dir: str, representative_images: np.ndarray,
                      name: str = MICRO_NAME) -> str:
    """`<name>.tflite`, the full-int8 file in the convolutions' own form (`micro`), and its C
    source `<name>.h` / `<name>.cc` as TFLite Micro's examples compile a model in; returns the
    file's path."""
    from tensorflow.lite.python.util import convert_bytes_to_c_source

    content = tflite.convert(model, "int8", representative_images, rearrange=False)
    path = _write(os.path.join(out_dir, f"{name}.tflite"), content)
    header, source = micro.c_source(content, name, convert_bytes_to_c_source,
                                    tflite.input_contract(content))
    for suffix, text in (("h", header), ("cc", source)):
        with open(os.path.join(out_dir, f"{name}.{suffix}"), "w") as f:
            f.write(text)
    return path


def measure_micro(baseline: keras.Model, pruned: keras.Model, out_dir: str,
                  representative_images: np.ndarray, images: np.ndarray, labels: np.ndarray,
                  latency_runs: int, progress: Callable[[str], None],
                  ) -> tuple[dict, str | None, dict[str, MicroFile]]:
    """The micro file's figures in TFLite Micro (the summary's `*_micro` fields), the reason
    TFLite Micro cannot run it (logged; the rest of the export goes on) or None, and each micro
    file measured (the baseline's when timed). A file over the microcontroller's limits
    (MICRO_FLASH_LIMIT, MICRO_ARENA_LIMIT) is logged as such."""
    path = write_micro_files(pruned, out_dir, representative_images)
    progress(f"TFLite Micro: the smallest arena of {os.path.basename(path)}, then its class for "
             f"each of {len(images)} eval examples")
    try:
        run = micro.measure(path, images, latency_runs)
    except micro.MicroError as error:
        log.warning("%s; the micro file is written, not measured", error)
        return {FIGURE.flash_bytes_micro: os.path.getsize(path)}, str(error), {}
    measured = {MICRO_NAME: MicroFile(run.flash_bytes, run.arena_bytes, run.latency_ms)}
    if not measured[MICRO_NAME].within_limits:
        log.warning("%s takes %d bytes of flash and a %d-byte arena: over a microcontroller's "
                    "%d and %d", os.path.basename(path), run.flash_bytes, run.arena_bytes,
                    MICRO_FLASH_LIMIT, MICRO_ARENA_LIMIT)
    litert_classes, reference_classes = (
        np.array([int(np.argmax(model.scores(image))) for image in images])
        for model in (tflite.TfliteModel(_read(path)),
                      tflite.TfliteModel(_read(path), reference=True)))
    figures = {
        FIGURE.flash_bytes_micro: run.flash_bytes,
        FIGURE.arena_bytes_micro: run.arena_bytes,
        FIGURE.micro_accuracy: float(np.mean(run.predictions == np.asarray(labels))),
        FIGURE.micro_litert_agreement: float(np.mean(run.predictions == litert_classes)),
        FIGURE.micro_litert_reference_agreement: float(
            np.mean(run.predictions == reference_classes)),
        FIGURE.latency_ms_micro_pruned: run.latency_ms,
    }
    if latency_runs:
        progress(f"TFLite Micro: timing the baseline's micro file, {latency_runs} runs")
        content = tflite.convert(baseline, "int8", representative_images, rearrange=False)
        baseline_path = _write(os.path.join(out_dir, BASELINE_MICRO_FILE), content)
        baseline_run = micro.measure(baseline_path, images[:1], latency_runs)
        figures[FIGURE.latency_ms_micro_baseline] = baseline_run.latency_ms
        measured["baseline_micro"] = MicroFile(baseline_run.flash_bytes, baseline_run.arena_bytes,
                                               baseline_run.latency_ms)
    return figures, None, measured


def measure_latency(
    tflite_paths: Mapping[str, str], pruned: keras.Model, image: np.ndarray, runs: int
) -> dict[str, float]:
    """Median batch-1 `invoke()` time in ms, one thread, of each written TFLite file
    ({key: path}), and of the pruned model as float in the converter's sparse format; the files
    interleaved (`tflite.latencies_ms`), so their ratios hold under the same machine state."""
    files = {key: _read(path) for key, path in tflite_paths.items()}
    files["pruned_float_sparse"] = tflite.convert(pruned, "float", sparse=True)
    rounds = min(_LATENCY_ROUNDS, runs)
    return tflite.latencies_ms(files, image, runs=max(1, runs // rounds), rounds=rounds)


def keras_figures(model: keras.Model, images: np.ndarray, labels: np.ndarray) -> ModelFigures:
    metrics = evaluate(model, data.in_memory_dataset(images, labels, 1000))
    layers = [layer.name for layer in wrap.prunable_layers(model)]
    return ModelFigures(accuracy=metrics.accuracy, loss=metrics.loss,
                        num_parameters=int(model.count_params()),
                        kernel_sparsity=measure.measure_sparsity(model, layers).overall)


def write_and_measure(
    baseline: keras.Model,
    pruned: keras.Model,
    out_dir: str,
    eval_images: np.ndarray,
    eval_labels: np.ndarray,
    representative_images: np.ndarray,
    latency_runs: int = 0,
    progress: Callable[[str], None] = log.info,
    pqat_model: keras.Model | None = None,
    image_format: data.ImageFormat = data.MNIST,
) -> CompressionReport:
    """Writes both models' files into the local directory `out_dir`; returns their report.

    `pqat_model` (the pruned model after pruning-preserving quantization-aware training, see
    `qat`) adds `pruned_pqat_int8.tflite`, converted to full integer and measured like the rest.
    """
    if len(eval_images) == 0:
        raise ValueError("No eval examples: accuracy needs at least one")
    if len(representative_images) == 0:
        raise ValueError("No representative examples: full-integer quantization needs some")
    models = dict(zip(MODELS, (baseline, pruned), strict=True))
    figures, records, timed = {}, [], {}
    for name, model in models.items():
        figures[name] = keras_figures(model, eval_images, eval_labels)
        progress(f"{name}: writing SavedModel, Keras and 3 TFLite files")
        paths = write_model_files(name, model, out_dir, representative_images, image_format)
        progress(f"{name}: measuring sizes and running the TFLite files on "
                 f"{len(eval_images)} eval examples")
        records += measure_files(name, paths, eval_images, eval_labels)
        timed |= {f"{name}_{flavour}": paths[tflite_format(flavour)]
                  for flavour in ("float", "int8")}
    if pqat_model is not None:
        path = _write(os.path.join(out_dir, PQAT_FILE),
                      tflite.convert(pqat_model, "int8", representative_images))
        records += measure_files("pruned", {tflite_format(PQAT_FLAVOUR): path}, eval_images,
                                 eval_labels)
    tensors = tflite.stored_tensors(_read(os.path.join(out_dir, DEPLOYED_FILE)))
    micro_figures, micro_error, micro_files = measure_micro(
        baseline, pruned, out_dir, representative_images, eval_images, eval_labels,
        latency_runs, progress)
    inputs = {name: tflite.input_contract(_read(os.path.join(out_dir, name)))
              for name in sorted(os.listdir(out_dir))
              if name.endswith(".tflite") and not name.startswith("baseline")}
    latency, runtime = {}, {}
    if latency_runs:
        progress(f"timing batch-1 inference, {latency_runs} runs per file, files interleaved")
        latency = measure_latency(timed, pruned, eval_images[0], latency_runs)
        progress("measuring the memory LiteRT needs for each timed file, one process each")
        runtime = {key: memory.runtime_memory(path) for key, path in timed.items()}
    return CompressionReport(
        summary=summarize(figures, records, latency, runtime, micro_figures),
        models=figures,
        files=tuple(records),
        pruned_int8_tensors=tuple(tensors),
        latency_ms=latency,
        num_eval_examples=len(eval_images),
        num_representative_examples=len(representative_images),
        runtime_memory=runtime,
        micro_error=micro_error,
        micro_files=micro_files,
        inputs=inputs,
    )


def summarize(figures: Mapping[str, ModelFigures], records: list[FileRecord],
              latency: Mapping[str, float],
              runtime: Mapping[str, RuntimeMemory] | None = None,
              micro_figures: Mapping[str, object] | None = None) -> CompressionSummary:
    """The summary; `micro_figures`: the `*_micro` fields `measure_micro` gives."""
    micro_figures = dict(micro_figures or {})
    if micro_figures.get(FIGURE.micro_accuracy) is not None:
        micro_figures[FIGURE.micro_accuracy_drop_pp] = drop_pp(
            figures["baseline"].accuracy, micro_figures[FIGURE.micro_accuracy])
    by_key = {(r.model, r.format): r for r in records}
    baseline_float = by_key["baseline", tflite_format("float")]
    baseline_int8 = by_key["baseline", tflite_format("int8")]
    pruned_int8 = by_key["pruned", tflite_format("int8")]
    memory_bytes = {key: value.total_bytes for key, value in (runtime or {}).items()}
    pqat = by_key.get(("pruned", tflite_format(PQAT_FLAVOUR)))
    baseline_accuracy = figures["baseline"].accuracy
    return CompressionSummary(
        baseline_accuracy=baseline_accuracy,
        pruned_accuracy=figures["pruned"].accuracy,
        pruned_sparsity=figures["pruned"].kernel_sparsity,
        int8_tflite_accuracy=pruned_int8.accuracy,
        int8_tflite_sparsity=pruned_int8.weight_sparsity,
        gzip_bytes_baseline_float_tflite=baseline_float.gzip_bytes,
        gzip_bytes_pruned_int8_tflite=pruned_int8.gzip_bytes,
        compression_ratio=baseline_float.gzip_bytes / pruned_int8.gzip_bytes,
        pruned_accuracy_drop_pp=drop_pp(baseline_accuracy, figures["pruned"].accuracy),
        int8_accuracy_drop_pp=drop_pp(baseline_accuracy, pruned_int8.accuracy),
        quantization_speedup=_ratio(latency, "pruned_float", "pruned_int8"),
        raw_bytes_baseline_int8_tflite=baseline_int8.raw_bytes,
        raw_bytes_pruned_int8_tflite=pruned_int8.raw_bytes,
        raw_size_ratio_int8=baseline_int8.raw_bytes / pruned_int8.raw_bytes,
        latency_ms_baseline_float=latency.get("baseline_float"),
        latency_ms_baseline_int8=latency.get("baseline_int8"),
        latency_ms_pruned_float=latency.get("pruned_float"),
        latency_ms_pruned_int8=latency.get("pruned_int8"),
        pruning_speedup_float=_ratio(latency, "baseline_float", "pruned_float"),
        pruning_speedup_int8=_ratio(latency, "baseline_int8", "pruned_int8"),
        memory_bytes_baseline_int8=memory_bytes.get("baseline_int8"),
        memory_bytes_pruned_int8=memory_bytes.get("pruned_int8"),
        pqat_int8_tflite_accuracy=pqat.accuracy if pqat else None,
        gzip_bytes_pruned_pqat_int8_tflite=pqat.gzip_bytes if pqat else None,
        **micro_figures,
    )


def _ratio(values: Mapping[str, float], numerator: str, denominator: str) -> float | None:
    """values[numerator] / values[denominator], or None when nothing was measured."""
    return values[numerator] / values[denominator] if values else None
