"""The compression report as typed values: what `compare.compress_and_compare` measured.

`report.json` is `CompressionReport.to_json()`; `CompressionReport.from_json` reads it back, so no
reader re-types its keys. Plain dataclasses, no TensorFlow.
"""

from __future__ import annotations

import dataclasses
import json

MODELS = ("baseline", "pruned")
# TFLite flavours, by the suffix of their file name (`pruned_int8.tflite`) -> converter mode.
TFLITE_FILES = {"float": "float", "dynamic_int8": "dynamic_int8", "int8": "full_int8"}
PQAT_FILE = "pruned_pqat_int8.tflite"


@dataclasses.dataclass(frozen=True)
class ModelFigures:
    """A Keras model on the eval split."""

    accuracy: float
    loss: float
    num_parameters: int
    kernel_sparsity: float  # zeros over all weights of its prunable kernels


@dataclasses.dataclass(frozen=True)
class FileRecord:
    model: str  # baseline or pruned
    format: str  # saved_model, keras, tflite_float, tflite_dynamic_int8, tflite_int8, ...
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


@dataclasses.dataclass(frozen=True)
class StoredTensor:
    """A constant tensor as a TFLite flatbuffer stores it: where a file's bytes go."""

    name: str
    shape: tuple[int, ...]
    dtype: str
    bytes: int
    zeros: int  # values equal to the zero point: pruned weights that survived conversion
    values: int
    gzip_bytes: int  # this buffer alone through gzip

    @property
    def sparsity(self) -> float:
        return self.zeros / self.values if self.values else 0.0


@dataclasses.dataclass(frozen=True)
class RuntimeMemory:
    """What LiteRT needs to run one TFLite file (`compression.memory`), in bytes."""

    heap_bytes: int  # allocated by creating the interpreter and its first invoke()
    file_bytes: int  # the file itself, which LiteRT maps and reads whole

    @property
    def total_bytes(self) -> int:
        return self.heap_bytes + self.file_bytes


@dataclasses.dataclass(frozen=True)
class CompressionSummary:
    """The key figures (also the exporter's ML Metadata properties, under these names)."""

    baseline_accuracy: float  # Keras, eval split
    pruned_accuracy: float
    pruned_sparsity: float
    int8_tflite_accuracy: float  # the pruned full-int8 file, through LiteRT
    int8_tflite_sparsity: float | None
    gzip_bytes_baseline_float_tflite: int
    gzip_bytes_pruned_int8_tflite: int
    compression_ratio: float  # the first gzip size over the second
    pruned_accuracy_drop_pp: float  # percentage points below the baseline's accuracy
    int8_accuracy_drop_pp: float
    latency_ms_float: float | None = None  # the pruned files, batch 1, one thread, median
    latency_ms_int8: float | None = None
    int8_speedup: float | None = None
    # Baseline against pruned, each at the same precision: what pruning buys on a device.
    raw_bytes_baseline_int8_tflite: int | None = None
    raw_bytes_pruned_int8_tflite: int | None = None
    raw_size_ratio_int8: float | None = None
    latency_ms_baseline_float: float | None = None
    latency_ms_baseline_int8: float | None = None
    latency_ms_pruned_float: float | None = None
    latency_ms_pruned_int8: float | None = None
    pruning_speedup_float: float | None = None  # baseline latency over pruned latency
    pruning_speedup_int8: float | None = None
    memory_bytes_baseline_int8: int | None = None  # RuntimeMemory.total_bytes of each file
    memory_bytes_pruned_int8: int | None = None
    pqat_int8_tflite_accuracy: float | None = None
    gzip_bytes_pruned_pqat_int8_tflite: int | None = None
    blessed: bool | None = None  # the Evaluator's verdict, when the exporter was given it


def drop_pp(baseline: float, other: float) -> float:
    """Percentage points `other` lies below `baseline` (accuracies as fractions)."""
    return round((baseline - other) * 100, 2)


@dataclasses.dataclass(frozen=True)
class CompressionReport:
    summary: CompressionSummary
    models: dict[str, ModelFigures]
    files: tuple[FileRecord, ...]
    pruned_int8_tensors: tuple[StoredTensor, ...]  # biggest first
    latency_ms: dict[str, float]  # per timed file; empty when not timed
    num_eval_examples: int
    num_representative_examples: int
    # Per timed file ("baseline_int8", ...): what LiteRT needs to run it; empty when not timed.
    runtime_memory: dict[str, RuntimeMemory] = dataclasses.field(default_factory=dict)

    def file(self, model: str, format: str) -> FileRecord:
        for record in self.files:
            if (record.model, record.format) == (model, format):
                return record
        raise KeyError(f"No {format} file of the {model} model in the report")

    def with_blessing(self, blessed: bool | None) -> CompressionReport:
        return dataclasses.replace(
            self, summary=dataclasses.replace(self.summary, blessed=blessed))

    def to_dict(self) -> dict:
        """The report.json layout: the fields, plus each file's and tensor's sparsity."""
        values = dataclasses.asdict(self)
        values["files"] = [dataclasses.asdict(r) | {"weight_sparsity": r.weight_sparsity}
                           for r in self.files]
        values["pruned_int8_tensors"] = [dataclasses.asdict(t) | {"sparsity": t.sparsity}
                                         for t in self.pruned_int8_tensors]
        values["runtime_memory"] = {key: dataclasses.asdict(m) | {"total_bytes": m.total_bytes}
                                    for key, m in self.runtime_memory.items()}
        return values

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> CompressionReport:
        values = json.loads(text)
        return cls(
            summary=CompressionSummary(**values["summary"]),
            models={name: ModelFigures(**figures) for name, figures in values["models"].items()},
            files=tuple(FileRecord(**_fields_of(FileRecord, r)) for r in values["files"]),
            pruned_int8_tensors=tuple(
                StoredTensor(**{**_fields_of(StoredTensor, t), "shape": tuple(t["shape"])})
                for t in values["pruned_int8_tensors"]),
            latency_ms=values["latency_ms"],
            num_eval_examples=values["num_eval_examples"],
            num_representative_examples=values["num_representative_examples"],
            runtime_memory={key: RuntimeMemory(**_fields_of(RuntimeMemory, memory))
                            for key, memory in values.get("runtime_memory", {}).items()},
        )


def _fields_of(cls, values: dict) -> dict:
    """`values` without the derived entries `to_dict` adds."""
    names = {f.name for f in dataclasses.fields(cls)}
    return {key: value for key, value in values.items() if key in names}
