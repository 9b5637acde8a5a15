"""The compression report as documents: report.json, report.md, report.html and five plots.

The plots compare regular (baseline) against pruned: accuracy and loss, compressed (gzip) size,
quantized TFLite size, and on the device (raw size, latency, LiteRT memory).
"""

from __future__ import annotations

import html
import os
from collections.abc import Callable

import matplotlib

matplotlib.use("Agg")  # files only; no display on servers
import matplotlib.pyplot as plt

from pruning.compression.report import (
    DEPLOYED_FILE,
    FIGURES,
    MICRO_ARENA_LIMIT,
    MICRO_FLASH_LIMIT,
    MODELS,
    CompressionReport,
    tflite_format,
)

REPORT_JSON = "report.json"
REPORT_MD = "report.md"
REPORT_HTML = "report.html"
PLOTS = {
    "accuracy_loss": "accuracy_and_loss.png",
    "compressed_size": "compressed_size.png",
    "tflite_size": "quantized_tflite_size.png",
    "device": "on_device.png",
    "flash_ram": "flash_and_ram.png",
}
_COLORS = dict(zip(MODELS, ("#7f8c8d", "#2e86c1"), strict=True))


def write_documents(report: CompressionReport, out_dir: str,
                    title: str = "Pruning and compression") -> dict:
    """Writes every document into the local directory `out_dir`; returns {kind: path}."""
    os.makedirs(out_dir, exist_ok=True)
    paths = {"json": os.path.join(out_dir, REPORT_JSON)}
    with open(paths["json"], "w") as f:
        f.write(report.to_json())
    for key, name in PLOTS.items():
        paths[key] = os.path.join(out_dir, name)
    plot_accuracy_loss(report, paths["accuracy_loss"])
    plot_sizes(report, ["keras", tflite_format("float")], "Compressed (gzip) size",
               paths["compressed_size"])
    plot_sizes(report, [tflite_format("dynamic_int8"), tflite_format("int8")],
               "Quantized TFLite size (gzip)",
               paths["tflite_size"])
    plot_device(report, paths["device"])
    plot_flash_ram(report, paths["flash_ram"])
    tables = report_tables(report)
    paths["markdown"] = os.path.join(out_dir, REPORT_MD)
    with open(paths["markdown"], "w") as f:
        f.write(to_markdown(title, tables))
    paths["html"] = os.path.join(out_dir, REPORT_HTML)
    with open(paths["html"], "w") as f:
        f.write(to_html(title, tables))
    return paths


def report_tables(report: CompressionReport) -> list[tuple[str, list[str], list[list[str]]]]:
    """(heading, header, rows) for each table of the summary documents."""
    summary_rows = [[figure.label, figure.format(value)]
                    for _, figure, value in report.summary.in_report()]
    file_rows = [
        [f.file, f.model, f.format, f"{f.raw_bytes:,}", f"{f.gzip_bytes:,}", _pct(f.accuracy),
         "" if f.loss is None else f"{f.loss:.4f}", _pct(f.weight_sparsity)]
        for f in report.files
    ]
    tensor_rows = [
        [t.name, "x".join(map(str, t.shape)), t.dtype, f"{t.bytes:,}", _pct(t.sparsity),
         f"{t.gzip_bytes:,}"]
        for t in report.pruned_int8_tensors
    ]
    tables = [
        ("Summary", ["Figure", "Value"], summary_rows),
        ("Baseline vs pruned on the device (batch 1, one thread)",
         ["TFLite file", "Raw bytes", "Gzip bytes", "Accuracy", "Latency", "LiteRT heap",
          "Memory (heap + file)"], device_rows(report)),
        (f"Files (accuracy and loss on {report.num_eval_examples:,} eval examples)",
         ["File", "Model", "Format", "Raw bytes", "Gzip bytes", "Accuracy", "Loss",
          "Zeros in stored kernels"], file_rows),
        (f"Where the bytes of {DEPLOYED_FILE} go (kernels, biggest first)",
         ["Tensor", "Shape", "Type", "Bytes", "Zeros", "Gzip bytes alone"], tensor_rows),
    ]
    if report.inputs:
        tables.append(("What each pruned TFLite file takes as input",
                       ["File", "Input shape", "Type", "Scale", "Zero point",
                        "Pixel 0 / 255 given as"], input_rows(report)))
    tables.append(("On a microcontroller (TFLite Micro, reference kernels)",
                   ["Figure", "Value"], micro_rows(report)))
    tables.append(("The smallest and the fastest file for each runtime",
                   ["Runtime", "Smallest file (bytes)", "Fastest file (ms per inference)"],
                   best_rows(report)))
    if report.latency_ms:
        tables.append(("Latency (batch 1, one thread, median)", ["TFLite file", "ms"],
                       [[k, f"{v:.4f}"] for k, v in report.latency_ms.items()]))
    return tables


def input_rows(report: CompressionReport) -> list[list[str]]:
    """Each file's input contract: what a device feeds it, a pixel p as round(p / 255 / scale)
    + zero point where it is quantized, p / 255 where it is float."""
    return [[name, "x".join(map(str, contract.shape)), contract.dtype,
             "" if contract.scale is None else f"{contract.scale:.6g}",
             "" if contract.zero_point is None else str(contract.zero_point),
             f"{contract.encode(0):g} / {contract.encode(255):g}"]
            for name, contract in report.inputs.items()]


def micro_rows(report: CompressionReport) -> list[list[str]]:
    """The micro file's flash, arena, accuracy and time in TFLite Micro, or why it could not
    run there."""
    rows = [[figure.label, figure.format(getattr(report.summary, name))]
            for name, figure in FIGURES.items()
            if ("micro" in name and getattr(report.summary, name) is not None)]
    if report.micro_error:
        rows.append(["Not run in TFLite Micro", report.micro_error])
    for name, measured in report.micro_files.items():
        verdict = "within" if measured.within_limits else "OVER"
        rows.append([f"{name}.tflite on a 64 KB-flash, 16 KB-RAM microcontroller",
                     f"{verdict} its {MICRO_FLASH_LIMIT:,} bytes of flash and "
                     f"{MICRO_ARENA_LIMIT:,} of arena ({measured.flash_bytes:,} and "
                     f"{measured.arena_bytes:,})"])
    return rows


def _runtimes(report: CompressionReport) -> dict[str, dict[str, tuple[int, float | None]]]:
    """{runtime: {file: (bytes, ms or None)}} of every file run by LiteRT and TFLite Micro."""
    runtimes = {}
    for flavour in ("float", "int8"):
        runtimes[f"LiteRT {flavour}"] = {
            report.file(name, tflite_format(flavour)).file: (
                report.file(name, tflite_format(flavour)).raw_bytes,
                report.latency_ms.get(f"{name}_{flavour}"))
            for name in MODELS}
    runtimes["TFLite Micro int8"] = {f"{name}.tflite": (m.flash_bytes, m.latency_ms)
                                     for name, m in report.micro_files.items()}
    return runtimes


def best_rows(report: CompressionReport) -> list[list[str]]:
    """For each runtime measured, which of its files is smallest and which is fastest."""
    rows = []
    for runtime, measured in _runtimes(report).items():
        if not measured:
            continue
        smallest = min(measured, key=lambda f: measured[f][0])
        timed = {f: ms for f, (_, ms) in measured.items() if ms is not None}
        fastest = (f"{min(timed, key=timed.get)} ({min(timed.values()):.4f})" if timed
                   else "not timed")
        rows.append([runtime, f"{smallest} ({measured[smallest][0]:,})", fastest])
    return rows


def device_rows(report: CompressionReport) -> list[list[str]]:
    """Each model's float and full-int8 file side by side: what a phone or a microcontroller
    pays for it in flash, RAM and time."""
    rows = []
    for flavour in ("float", "int8"):
        for name in MODELS:
            record = report.file(name, tflite_format(flavour))
            key = f"{name}_{flavour}"
            latency = report.latency_ms.get(key)
            memory = report.runtime_memory.get(key)
            rows.append([record.file, f"{record.raw_bytes:,}", f"{record.gzip_bytes:,}",
                         _pct(record.accuracy),
                         "" if latency is None else f"{latency:.4f} ms",
                         "" if memory is None else f"{memory.heap_bytes:,}",
                         "" if memory is None else f"{memory.total_bytes:,}"])
    return rows


def to_markdown(title: str, tables) -> str:
    lines = [f"# {title}", ""]
    for heading, header, rows in tables:
        lines += [f"## {heading}", "", "| " + " | ".join(header) + " |",
                  "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(row) + " |" for row in rows]
        lines.append("")
    lines += [f"![{key}]({name})" for key, name in PLOTS.items()]
    return "\n".join(lines) + "\n"


def to_html(title: str, tables) -> str:
    # Each plot on its own line at its natural size (FIGURE_PX wide): the page is as wide.
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}"
             "</title><style>body{font-family:sans-serif;margin:2em auto;padding:0 1em;"
             f"max-width:{FIGURE_PX}px}}table{{border-collapse:collapse;margin-bottom:1.5em}}"
             "td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}td:first-child,"
             "th:first-child{text-align:left}img{display:block;max-width:100%;"
             "margin:1em 0}</style></head>"
             f"<body><h1>{html.escape(title)}</h1>"]
    for heading, header, rows in tables:
        parts.append(f"<h2>{html.escape(heading)}</h2><table><tr>"
                     + "".join(f"<th>{html.escape(h)}</th>" for h in header) + "</tr>")
        for row in rows:
            parts.append("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>")
        parts.append("</table>")
    parts += [f"<img src='{name}' alt='{key}'>" for key, name in PLOTS.items()]
    parts.append("</body></html>\n")
    return "".join(parts)


# Every plot is FIGURE_PX wide at its natural size, with text of about 14 px there: readable
# where the HTML report shows it (its page is as wide) and in the Markdown one.
FIGURE_PX = 1200
_DPI = 100
_HEIGHT_IN = 4.6
_STYLE = {"font.size": 13, "axes.titlesize": 14, "figure.titlesize": 15, "legend.fontsize": 12}


def _figure(panels: int):
    with plt.rc_context(_STYLE):
        fig, axes = plt.subplots(1, panels, figsize=(FIGURE_PX / _DPI, _HEIGHT_IN),
                                 squeeze=False)
    return fig, list(axes[0])


def _save(fig, path: str, title: str) -> None:
    """With one legend for the figure, above the panels (none covers a bar)."""
    with plt.rc_context(_STYLE):
        handles, labels = fig.axes[0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="upper right", bbox_to_anchor=(0.98, 1),
                   ncols=len(labels), frameon=False)
        fig.suptitle(title, x=0.02, ha="left")
        fig.tight_layout(rect=(0, 0, 1, 0.95))
        fig.savefig(path, dpi=_DPI)
    plt.close(fig)


def _amount(value: float, unit: str) -> str:
    return f"{value:,.0f} {unit}" if value >= 100 else f"{value:.1f} {unit}"


def _paired_bars(axis, groups: list[str], values: dict[str, list[float]],
                 label: Callable[[float], str]) -> None:
    """One bar per model in each group, labelled with its value."""
    for i, name in enumerate(MODELS):
        bars = axis.bar([g + i * 0.38 for g in range(len(groups))], values[name], 0.38,
                        label=name, color=_COLORS[name])
        axis.bar_label(bars, labels=[label(v) for v in values[name]],
                       fontsize=_STYLE["font.size"] - 1, padding=2)
    axis.set_xticks([g + 0.19 for g in range(len(groups))], groups)


def _ratio_axis(axis, groups: list[str], values: dict[str, list[float]], unit: str) -> None:
    """Sizes span orders of magnitude (a pruned file can be 1/100 of its baseline): a log axis,
    and each group's ratio written above it, so the small bar stays visible and comparable."""
    axis.set_yscale("log")
    _paired_bars(axis, groups, values, lambda v: _amount(v, unit))
    top = max(max(v) for v in values.values())
    axis.set_ylim(min(min(v) for v in values.values()) / 3, top * 6)
    baseline, pruned = (values[name] for name in MODELS)
    for g, (big, small) in enumerate(zip(baseline, pruned, strict=True)):
        if small > 0:
            axis.text(g + 0.19, top * 2.5, f"{big / small:.1f}× smaller", ha="center",  # noqa: RUF001
                      fontweight="bold")
    axis.set_ylabel(f"{unit} (log scale)")


def plot_accuracy_loss(report: CompressionReport, path: str) -> None:
    fig, (left, right) = _figure(2)
    groups = ["Keras", "int8 TFLite"]
    for axis, key, label, fmt in ((left, "accuracy", "Accuracy (%)", "{:.2f}".format),
                                  (right, "loss", "Loss", "{:.4f}".format)):
        scale = 100 if key == "accuracy" else 1
        values = {name: [getattr(report.models[name], key) * scale,
                         getattr(report.file(name, tflite_format("int8")), key) * scale]
                  for name in MODELS}
        _paired_bars(axis, groups, values, fmt)
        axis.set_title(label)
        if key == "accuracy":
            low = min(min(v) for v in values.values())
            axis.set_ylim(max(0, low - 2), 100.5)
        else:
            axis.set_ylim(0, max(max(v) for v in values.values()) * 1.2)
    _save(fig, path, "Regular vs pruned: accuracy and loss on the eval split")


def plot_sizes(report: CompressionReport, formats: list[str], title: str, path: str) -> None:
    """Gzip bytes of each model's file in each format."""
    fig, (axis,) = _figure(1)
    values = {name: [report.file(name, fmt).gzip_bytes / 1024 for fmt in formats]
              for name in MODELS}
    _ratio_axis(axis, [fmt.replace(tflite_format(""), "TFLite ") for fmt in formats], values,
                "KiB")
    _save(fig, path, f"{title}: regular vs pruned")


def plot_flash_ram(report: CompressionReport, path: str) -> None:
    """Each file's bytes (flash on a microcontroller) against the RAM its runtime needs: LiteRT's
    heap where it was measured, TFLite Micro's arena; log axes, the microcontroller's share
    shaded."""
    fig, (axis,) = _figure(1)
    points = []  # (label, flash KiB, RAM KiB, model, marker)
    for name in MODELS:
        for suffix in ("float", "int8"):
            memory = report.runtime_memory.get(f"{name}_{suffix}")
            if memory is not None:
                points.append((f"{name}_{suffix}.tflite (LiteRT)", memory.file_bytes / 1024,
                               memory.heap_bytes / 1024, name, "o"))
    for key, measured in report.micro_files.items():
        model = key.split("_")[0]
        points.append((f"{key}.tflite (TFLite Micro)", measured.flash_bytes / 1024,
                       measured.arena_bytes / 1024, model if model in MODELS else MODELS[1],
                       "s"))
    axis.add_patch(plt.Rectangle((1e-3, 1e-3), MICRO_FLASH_LIMIT / 1024, MICRO_ARENA_LIMIT / 1024,
                                 color="#d5f5e3", zorder=0, label="microcontroller's share"))
    for marker, runtime in (("o", "LiteRT"), ("s", "TFLite Micro")):
        axis.scatter([], [], s=90, marker=marker, color="#555555", label=runtime)
    for index, (label, flash, ram, model, marker) in enumerate(points):
        axis.scatter([flash], [ram], s=90, marker=marker, color=_COLORS[model], zorder=3)
        # Labels alternate above and below their point: neighbours' labels do not overlap.
        axis.annotate(f"{label}\n{_amount(flash, 'KiB')} / {_amount(ram, 'KiB')}", (flash, ram),
                      textcoords="offset points", xytext=(8, 6 if index % 2 else -34),
                      fontsize=_STYLE["font.size"] - 2)
    axis.set_xscale("log")
    axis.set_yscale("log")
    flashes = [p[1] for p in points] or [MICRO_FLASH_LIMIT / 1024]
    rams = [p[2] for p in points] or [MICRO_ARENA_LIMIT / 1024]
    axis.set_xlim(min(*flashes, MICRO_FLASH_LIMIT / 1024) / 3, max(flashes) * 8)
    axis.set_ylim(min(*rams, MICRO_ARENA_LIMIT / 1024) / 8, max(rams) * 4)
    axis.set_xlabel("file (flash), KiB")
    axis.set_ylabel("RAM at run time, KiB")
    if not points:
        axis.text(0.5, 0.5, "not measured", transform=axis.transAxes, ha="center")
    _save(fig, path, "Flash against RAM (grey baseline, blue pruned)")


def plot_device(report: CompressionReport, path: str) -> None:
    """Raw file size, latency and LiteRT memory of each model's float and int8 file: what a
    device pays (latency and memory only when they were measured)."""
    suffixes = ("float", "int8")
    panels = [("Raw file", "KiB", True, lambda name, suffix: report.file(
        name, tflite_format(suffix)).raw_bytes / 1024)]
    if report.latency_ms:
        panels.append(("Latency, batch 1", "µs", False,
                       lambda name, suffix: report.latency_ms[f"{name}_{suffix}"] * 1000))
    if report.runtime_memory:
        panels.append(("Memory: heap + file", "KiB", True, lambda name, suffix: report
                       .runtime_memory[f"{name}_{suffix}"].total_bytes / 1024))
    fig, axes = _figure(len(panels))
    groups = [f"TFLite {suffix}" for suffix in suffixes]
    for axis, (label, unit, log, value) in zip(axes, panels, strict=True):
        values = {name: [value(name, suffix) for suffix in suffixes] for name in MODELS}
        if log:
            _ratio_axis(axis, groups, values, unit)
        else:
            _paired_bars(axis, groups, values, lambda v, unit=unit: _amount(v, unit))
            baseline, pruned = (values[name] for name in MODELS)
            top = max(max(v) for v in values.values())
            axis.set_ylim(0, top * 1.35)
            for g, (big, small) in enumerate(zip(baseline, pruned, strict=True)):
                if small > 0:
                    axis.text(g + 0.19, top * 1.2, f"{big / small:.1f}× faster", ha="center",  # noqa: RUF001
                              fontweight="bold")
            axis.set_ylabel(unit)
        axis.set_title(label)
    _save(fig, path, "On the device: regular vs pruned")


def _pct(value: float | None) -> str:
    return "" if value is None else f"{value * 100:.2f} %"
