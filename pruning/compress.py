"""Every deployable file of a baseline and a pruned model, measured side by side.

`compress_and_compare` is CompressExporter's work as a plain function (usable from a notebook): for
each model it writes a SavedModel, a Keras file and three TFLite files, measures raw and gzip
sizes the same way for all (pruning/sizes.py), runs each TFLite file on the whole eval set with
LiteRT, counts the zeros left in its stored kernels, and optionally times batch-1 inference.
It returns the report as a plain dict (pruning/report.py writes it out).
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Callable, Mapping

import numpy as np
import tf_keras as keras

from pruning import apply, export, qat, sizes, sparsity, tflite
from pruning.data import in_memory_dataset
from pruning.evaluate import evaluate

log = logging.getLogger(__name__)

# TFLite flavours, by the suffix of their file name (`pruned_int8.tflite`).
TFLITE_FILES = {"float": "float", "dynamic_int8": "dynamic_int8", "int8": "full_int8"}
MODEL_NAMES = ("baseline", "pruned")


@dataclasses.dataclass(frozen=True)
class PqatOptions:
    """Optional pruning-preserving QAT of the pruned model, on these training examples."""

    images: np.ndarray
    labels: np.ndarray
    epochs: int = 1
    learning_rate: float = 1e-4


PQAT_FILE = "pruned_pqat_int8.tflite"


@dataclasses.dataclass(frozen=True)
class FileRecord:
    model: str  # baseline or pruned
    format: str  # saved_model, keras, tflite_float, tflite_dynamic_int8, tflite_int8
    file: str  # name inside the output directory
    raw_bytes: int
    gzip_bytes: int
    accuracy: float | None = None  # TFLite files: on the whole eval set, through LiteRT
    loss: float | None = None
    weight_zeros: int | None = None  # TFLite files: zeros stored in the kernels
    weight_values: int | None = None

    @property
    def weight_sparsity(self) -> float | None:
        if not self.weight_values:
            return None
        return self.weight_zeros / self.weight_values


def write_model_files(
    name: str, model: keras.Model, out_dir: str, representative_images: np.ndarray
) -> dict[str, str]:
    """`<name>_saved_model/`, `<name>.keras` and `<name>_{float,dynamic_int8,int8}.tflite`.

    Returns {format: path}.
    """
    os.makedirs(out_dir, exist_ok=True)
    paths = {"saved_model": os.path.join(out_dir, f"{name}_saved_model"),
             "keras": os.path.join(out_dir, f"{name}.keras")}
    export.export_saved_model(model, paths["saved_model"])
    model.save(paths["keras"])
    for suffix, mode in TFLITE_FILES.items():
        path = os.path.join(out_dir, f"{name}_{suffix}.tflite")
        with open(path, "wb") as f:
            f.write(tflite.convert(model, mode, representative_images))
        paths[f"tflite_{suffix}"] = path
    return paths


def measure_files(
    name: str, paths: Mapping[str, str], images: np.ndarray, labels: np.ndarray
) -> list[FileRecord]:
    """Sizes of every file; accuracy, loss and stored zeros of every TFLite file."""
    records = []
    for kind, path in paths.items():
        record = FileRecord(name, kind, os.path.basename(path), sizes.raw_bytes(path),
                            sizes.gzip_bytes(path))
        if kind.startswith("tflite_"):
            with open(path, "rb") as f:
                content = f.read()
            metrics = tflite.TfliteModel(content).evaluate(images, labels)
            zeros, values = tflite.weight_zeros(content)
            record = dataclasses.replace(record, accuracy=metrics.accuracy, loss=metrics.loss,
                                         weight_zeros=zeros, weight_values=values)
        records.append(record)
    return records


def measure_latency(
    tflite_paths: Mapping[str, str], pruned: keras.Model, image: np.ndarray, runs: int
) -> dict[str, float]:
    """Median batch-1 `invoke()` time in ms, one thread, of each written TFLite file
    ({key: path}), and of the pruned model as float in the converter's sparse format."""
    files = {}
    for key, path in tflite_paths.items():
        with open(path, "rb") as f:
            files[key] = f.read()
    files["pruned_float_sparse"] = tflite.convert(pruned, "float", sparse=True)
    return {key: tflite.TfliteModel(content, num_threads=1).latency_ms(image, runs)
            for key, content in files.items()}


def compress_and_compare(
    baseline: keras.Model,
    pruned: keras.Model,
    out_dir: str,
    eval_images: np.ndarray,
    eval_labels: np.ndarray,
    representative_images: np.ndarray,
    latency_runs: int = 0,
    progress: Callable[[str], None] = log.info,
    pqat: PqatOptions | None = None,
) -> dict:
    """Writes both models' files into `out_dir` and returns the report (see module docstring).

    With `pqat`, also `pruned_pqat_int8.tflite`: the pruned model after pruning-preserving
    quantization-aware training, converted to full integer and measured like the others.
    """
    if len(eval_images) == 0:
        raise ValueError("No eval examples: accuracy needs at least one")
    if len(representative_images) == 0:
        raise ValueError("No representative examples: full-integer quantization needs some")
    models = {"baseline": baseline, "pruned": pruned}
    keras_figures, records, timed = {}, [], {}
    for name, model in models.items():
        metrics = evaluate(model, in_memory_dataset(eval_images, eval_labels, 1000))
        layers = [layer.name for layer in apply.prunable_layers(model)]
        keras_figures[name] = {
            "accuracy": metrics.accuracy,
            "loss": metrics.loss,
            "num_parameters": int(model.count_params()),
            "kernel_sparsity": sparsity.measure_sparsity(model, layers).overall,
        }
        progress(f"{name}: writing SavedModel, Keras and 3 TFLite files")
        paths = write_model_files(name, model, out_dir, representative_images)
        progress(f"{name}: measuring sizes and running the TFLite files on "
                 f"{len(eval_images)} eval examples")
        records += measure_files(name, paths, eval_images, eval_labels)
        timed |= {f"{name}_{suffix}": paths[f"tflite_{suffix}"] for suffix in ("float", "int8")}
    if pqat is not None:
        progress(f"pruning-preserving QAT of the pruned model, {pqat.epochs} epoch(s) on "
                 f"{len(pqat.images)} examples")
        trained = qat.pqat_fine_tune(pruned, pqat.images, pqat.labels, epochs=pqat.epochs,
                                     learning_rate=pqat.learning_rate)
        path = os.path.join(out_dir, PQAT_FILE)
        with open(path, "wb") as f:
            f.write(tflite.convert(trained, "full_int8", representative_images))
        records += measure_files("pruned", {"tflite_pqat_int8": path}, eval_images, eval_labels)
    with open(os.path.join(out_dir, "pruned_int8.tflite"), "rb") as f:
        tensors = [dataclasses.asdict(t) | {"sparsity": t.sparsity}
                   for t in tflite.stored_tensors(f.read())]
    latency = {}
    if latency_runs:
        progress(f"timing batch-1 inference, median of {latency_runs} runs per file")
        latency = measure_latency(timed, pruned, eval_images[0], latency_runs)
    return build_report(keras_figures, records, tensors, latency,
                        num_eval=len(eval_images), num_representative=len(representative_images))


def build_report(
    keras_figures: dict, records: list[FileRecord], tensors: list[dict], latency: dict,
    num_eval: int, num_representative: int,
) -> dict:
    by_key = {(r.model, r.format): r for r in records}
    baseline_float = by_key["baseline", "tflite_float"]
    pruned_int8 = by_key["pruned", "tflite_int8"]
    summary = {
        "baseline_accuracy": keras_figures["baseline"]["accuracy"],
        "pruned_accuracy": keras_figures["pruned"]["accuracy"],
        "pruned_sparsity": keras_figures["pruned"]["kernel_sparsity"],
        "int8_tflite_accuracy": pruned_int8.accuracy,
        "int8_tflite_sparsity": pruned_int8.weight_sparsity,
        "gzip_bytes_baseline_float_tflite": baseline_float.gzip_bytes,
        "gzip_bytes_pruned_int8_tflite": pruned_int8.gzip_bytes,
        "compression_ratio": baseline_float.gzip_bytes / pruned_int8.gzip_bytes,
        "int8_accuracy_loss": keras_figures["baseline"]["accuracy"] - pruned_int8.accuracy,
    }
    if ("pruned", "tflite_pqat_int8") in by_key:
        pqat_file = by_key["pruned", "tflite_pqat_int8"]
        summary["pqat_int8_tflite_accuracy"] = pqat_file.accuracy
        summary["gzip_bytes_pruned_pqat_int8_tflite"] = pqat_file.gzip_bytes
    if latency:
        summary["latency_ms_float"] = latency["pruned_float"]
        summary["latency_ms_int8"] = latency["pruned_int8"]
        summary["int8_speedup"] = latency["pruned_float"] / latency["pruned_int8"]
    return {
        "summary": summary,
        "models": keras_figures,
        "files": [dataclasses.asdict(r) | {"weight_sparsity": r.weight_sparsity}
                  for r in records],
        "pruned_int8_tensors": tensors,
        "latency_ms": latency,
        "num_eval_examples": num_eval,
        "num_representative_examples": num_representative,
    }
