"""The compression report as typed values: what `files.write_and_measure` measured.

`report.json` is `CompressionReport.to_json()`; `CompressionReport.from_json` reads it back, so no
reader re-types its keys. Plain dataclasses, no TensorFlow.
"""

from __future__ import annotations

import dataclasses
import json

MODELS = ("baseline", "pruned")
# The TFLite flavours, each under one name: the converter's mode (`tflite.convert`), the file
# (`tflite_file`: pruned_int8.tflite) and the report's format (`tflite_format`: tflite_int8).
# float: float32 weights; dynamic_int8: int8 weights, float activations; int8: int8 weights,
# activations, input and output (what integer-only devices run).
TFLITE_FLAVOURS = ("float", "dynamic_int8", "int8")
PQAT_FLAVOUR = "pqat_int8"  # the int8 file of the model after pruning-preserving QAT


def tflite_file(model: str, flavour: str) -> str:
    return f"{model}_{flavour}.tflite"


def tflite_format(flavour: str) -> str:
    return f"tflite_{flavour}"


def saved_model_dir(model: str) -> str:
    return f"{model}_saved_model"


PQAT_FILE = tflite_file("pruned", PQAT_FLAVOUR)
# The file deployed beside the pruned SavedModel (what the Pusher pushes).
DEPLOYED_FILE = tflite_file("pruned", "int8")
# The file for a microcontroller (TFLite Micro): the pruned full-int8 model in its convolutions'
# own form, and its C source (`<name>.h`, `<name>.cc`); the baseline's is written to time it.
MICRO_NAME = "pruned_micro"
MICRO_FILE = f"{MICRO_NAME}.tflite"
BASELINE_MICRO_FILE = "baseline_micro.tflite"
# A microcontroller the micro file is made for: 64 KB of flash and 16 KB of RAM, a quarter of
# the flash and half of the RAM left to the model, the rest to the firmware.
MICRO_FLASH_LIMIT = 16_384
MICRO_ARENA_LIMIT = 8_192


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
class FileInput:
    """What a TFLite file's input takes (`tflite.input_contract`): the image batch's shape,
    e.g. (1, 32, 32, 3), its type, and for a quantized input the scale and zero point: a pixel p
    (0-255) is given as round(p / 255 / scale) + zero_point."""

    shape: tuple[int, ...]
    dtype: str
    scale: float | None = None
    zero_point: int | None = None

    def encode(self, pixel: int) -> float | int:
        """The value this input takes for the pixel value `pixel` (0-255)."""
        if self.scale is None:
            return pixel / 255
        return round(pixel / 255 / self.scale) + self.zero_point


@dataclasses.dataclass(frozen=True)
class RuntimeMemory:
    """What LiteRT needs to run one TFLite file (`compression.memory`), in bytes."""

    heap_bytes: int  # allocated by creating the interpreter and its first invoke()
    file_bytes: int  # the file itself, which LiteRT maps and reads whole

    @property
    def total_bytes(self) -> int:
        return self.heap_bytes + self.file_bytes


@dataclasses.dataclass(frozen=True)
class MicroFile:
    """One file in TFLite Micro (`compression.micro`), in bytes and ms."""

    flash_bytes: int
    arena_bytes: int  # the smallest arena that allocates and invokes it
    latency_ms: float | None = None  # median invoke(), reference kernels

    @property
    def within_limits(self) -> bool:
        return (self.flash_bytes <= MICRO_FLASH_LIMIT
                and self.arena_bytes <= MICRO_ARENA_LIMIT)


@dataclasses.dataclass(frozen=True)
class Figure:
    """How one figure of the summary is read, and whether the report's summary table shows it.

    The ML Metadata properties of the exporter's artifacts hold every figure, under its name;
    what the layers above show of them (`make run`'s summary, `make bench`'s results.json,
    `prune-lineage`) each of them says, naming the figures through `FIGURE`."""

    label: str
    unit: str  # a key of _FORMATS
    in_report: bool

    def format(self, value) -> str:
        return _FORMATS[self.unit](value)


_FORMATS = {
    "fraction": lambda v: f"{v * 100:.2f} %",
    "bytes": lambda v: f"{v:,}",
    "ratio": lambda v: f"{v:.1f}x",
    "speedup": lambda v: f"{v:.2f}x",
    "ms": lambda v: f"{v:.4f} ms",
    "pp": lambda v: f"{v:.2f} pp",
    "yes/no": lambda v: "yes" if v else "no",
}
_REQUIRED = object()


def _figure(label: str, unit: str, *shown: str, default=_REQUIRED):
    """A summary field; `shown` is ("report",) where the report's summary table shows it."""
    if set(shown) - {"report"}:
        raise ValueError(f"a figure is shown in the report or nowhere here, not {shown}")
    metadata = {"figure": Figure(label, unit, "report" in shown)}
    if default is _REQUIRED:
        return dataclasses.field(metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


@dataclasses.dataclass(frozen=True)
class CompressionSummary:
    """The key figures, each declared once: FIGURES says how each is read and whether the
    report's table shows it (also the exporter's ML Metadata properties, under these names).
    The accuracies are on the whole eval split."""

    baseline_accuracy: float = _figure("Baseline accuracy (Keras)", "fraction", "report")
    pruned_accuracy: float = _figure("Pruned accuracy (Keras)", "fraction", "report")
    pruned_sparsity: float = _figure("Pruned kernel sparsity (Keras)", "fraction", "report")
    int8_tflite_accuracy: float = _figure(  # the pruned full-int8 file, through LiteRT
        "Pruned int8 TFLite accuracy", "fraction", "report")
    int8_tflite_sparsity: float | None = _figure(
        "Zeros stored in the int8 TFLite kernels", "fraction", "report")
    gzip_bytes_baseline_float_tflite: int = _figure(
        "Baseline float TFLite, gzip bytes", "bytes", "report")
    gzip_bytes_pruned_int8_tflite: int = _figure(
        "Pruned int8 TFLite, gzip bytes", "bytes", "report")
    compression_ratio: float = _figure(  # the first gzip size over the second
        "Compression ratio", "ratio", "report")
    pruned_accuracy_drop_pp: float = _figure(  # percentage points below the baseline's
        "Pruned accuracy below the baseline's", "pp")
    int8_accuracy_drop_pp: float = _figure("Pruned int8 TFLite accuracy below the baseline's",
                                           "pp")
    # The pruned model's float file over its int8 file, batch 1, one thread, median latencies:
    # what quantization buys it (the latencies: latency_ms_pruned_*, below).
    quantization_speedup: float | None = _figure(
        "Quantization speed-up, pruned (float / int8 latency)", "speedup", "report",
        default=None)
    # Baseline against pruned, each at the same precision: what pruning buys on a device.
    raw_bytes_baseline_int8_tflite: int | None = _figure(
        "Baseline int8 TFLite, raw bytes", "bytes", default=None)
    raw_bytes_pruned_int8_tflite: int | None = _figure(
        "Pruned int8 TFLite, raw bytes", "bytes", default=None)
    raw_size_ratio_int8: float | None = _figure(
        "int8 TFLite raw bytes, baseline / pruned", "ratio", "report", default=None)
    latency_ms_baseline_float: float | None = _figure(
        "Latency, baseline float TFLite", "ms", default=None)
    latency_ms_baseline_int8: float | None = _figure(
        "Latency, baseline int8 TFLite", "ms", default=None)
    latency_ms_pruned_float: float | None = _figure(
        "Latency, pruned float TFLite (batch 1, median)", "ms", "report",
        default=None)
    latency_ms_pruned_int8: float | None = _figure(
        "Latency, pruned int8 TFLite (batch 1, median)", "ms", "report",
        default=None)
    pruning_speedup_float: float | None = _figure(  # baseline latency over pruned latency
        "Pruning speed-up, float (baseline / pruned)", "speedup", "report",
        default=None)
    pruning_speedup_int8: float | None = _figure(
        "Pruning speed-up, int8 (baseline / pruned)", "speedup", "report",
        default=None)
    memory_bytes_baseline_int8: int | None = _figure(  # RuntimeMemory.total_bytes of each file
        "LiteRT memory, baseline int8 TFLite (heap + file)", "bytes", default=None)
    memory_bytes_pruned_int8: int | None = _figure(
        "LiteRT memory, pruned int8 TFLite (heap + file)", "bytes", default=None)
    pqat_int8_tflite_accuracy: float | None = _figure(
        "Pruned PQAT int8 TFLite accuracy", "fraction", default=None)
    gzip_bytes_pruned_pqat_int8_tflite: int | None = _figure(
        "Pruned PQAT int8 TFLite, gzip bytes", "bytes", default=None)
    # The micro file in TFLite Micro's interpreter, reference kernels (`compression.micro`).
    flash_bytes_micro: int | None = _figure(
        "Micro file, flash bytes (TFLite Micro)", "bytes", "report",
        default=None)
    arena_bytes_micro: int | None = _figure(  # the smallest arena that allocates and invokes
        "Micro file, smallest TFLite Micro arena", "bytes", "report",
        default=None)
    micro_accuracy: float | None = _figure(
        "Micro file accuracy (TFLite Micro)", "fraction", "report",
        default=None)
    micro_accuracy_drop_pp: float | None = _figure(
        "Micro file accuracy below the baseline's", "pp", default=None)
    micro_litert_agreement: float | None = _figure(  # same file, same images
        "Micro file: TFLite Micro's class equal to LiteRT's", "fraction", "report",
        default=None)
    micro_litert_reference_agreement: float | None = _figure(  # LiteRT's reference kernels
        "Micro file: TFLite Micro's class equal to LiteRT's reference kernels'", "fraction",
        "report", default=None)
    latency_ms_micro_baseline: float | None = _figure(
        "Latency, baseline micro file (TFLite Micro reference kernels)", "ms", "report",
        default=None)
    latency_ms_micro_pruned: float | None = _figure(
        "Latency, micro file (TFLite Micro reference kernels)", "ms", "report",
        default=None)
    blessed: bool | None = _figure(  # the Evaluator's verdict, when the exporter was given it
        "Blessed by the Evaluator", "yes/no", "report", default=None)

    def in_report(self) -> list[tuple[str, Figure, object]]:
        """(name, figure, value) of each figure the report's table shows that has a value."""
        return [(name, figure, getattr(self, name)) for name, figure in FIGURES.items()
                if figure.in_report and getattr(self, name) is not None]


FIGURES: dict[str, Figure] = {field.name: field.metadata["figure"]
                              for field in dataclasses.fields(CompressionSummary)}


class _FigureNames:
    """`FIGURE.compression_ratio` is "compression_ratio": a reader names a figure it uses
    through this, so a name no figure has fails where it is read."""

    def __getattr__(self, name: str) -> str:
        if name in FIGURES:
            return name
        raise AttributeError(f"no figure {name!r} in CompressionSummary")


FIGURE = _FigureNames()


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
    # Why TFLite Micro could not run the micro file (the operators it lacks), if it could not.
    micro_error: str | None = None
    # Per micro file ("pruned_micro", "baseline_micro" when timed): TFLite Micro's figures.
    micro_files: dict[str, MicroFile] = dataclasses.field(default_factory=dict)
    # Per TFLite file of the pruned model (its file name): what its input takes.
    inputs: dict[str, FileInput] = dataclasses.field(default_factory=dict)

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
        values["micro_files"] = {key: dataclasses.asdict(m) | {"within_limits": m.within_limits}
                                 for key, m in self.micro_files.items()}
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
            micro_error=values.get("micro_error"),
            micro_files={key: MicroFile(**_fields_of(MicroFile, figures))
                         for key, figures in values.get("micro_files", {}).items()},
            inputs={name: FileInput(**{**contract, "shape": tuple(contract["shape"])})
                    for name, contract in values.get("inputs", {}).items()},
        )


def _fields_of(cls, values: dict) -> dict:
    """`values` without the derived entries `to_dict` adds."""
    names = {f.name for f in dataclasses.fields(cls)}
    return {key: value for key, value in values.items() if key in names}
