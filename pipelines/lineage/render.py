"""Lineage and listings as text for people: an indented tree, tables, DOT, Mermaid, PNG."""

from __future__ import annotations

import shutil
import subprocess

from components import properties
from pipelines.lineage.queries import ArtifactInfo, ExecutionInfo, RunInfo
from pruning.compression import report

# The exporter's figures the tree and the graph label its artifacts with.
GRAPH_FIGURES = (report.FIGURE.int8_tflite_accuracy, report.FIGURE.gzip_bytes_pruned_int8_tflite,
                 report.FIGURE.compression_ratio)
# Properties worth a glance in the tree and tables; --json prints every one.
HIGHLIGHTS = tuple(dict.fromkeys((
    properties.TFDS_DATASET, properties.TFDS_VERSION, properties.num_examples("train"),
    properties.num_examples("eval"), properties.MODEL_MODULE, properties.MODEL_MODULE_SHA256,
    properties.IMPORTED_FROM, properties.TEST_ACCURACY, properties.KEPT_CHANNELS,
    properties.SPARSITY,
    properties.CLUSTERS, properties.BLESSED, *GRAPH_FIGURES, properties.PUSHED,
    properties.PUSHED_DESTINATION)))


def _figures(properties: dict) -> str:
    shown = []
    for key in HIGHLIGHTS:
        if key in properties:
            value = properties[key]
            shown.append(f"{key}={value:.4f}" if isinstance(value, float) else f"{key}={value}")
    return "  ".join(shown)


def artifact_label(a: ArtifactInfo) -> str:
    made_by = f" {a.node}.{a.output_key}" if a.node else ""
    return f"artifact {a.id} {a.type}{made_by}  {a.uri}"


def execution_label(e: ExecutionInfo) -> str:
    extra = "  ".join(f"{k}={v}" for k, v in e.properties.items())
    return (f"execution {e.id} {e.node} {e.state}  {e.started}, {e.seconds:.1f} s"
            + (f"  {extra}" if extra else ""))


def tree(graph: dict) -> str:
    """The graph as an indented tree from the root; a subtree already printed is referenced."""
    artifacts, executions = graph["artifacts"], graph["executions"]
    downstream = graph["direction"] == "downstream"
    children: dict[str, list[tuple[str, str]]] = {}
    for source, target, key in graph["edges"]:
        parent, child = (source, target) if downstream else (target, source)
        children.setdefault(parent, []).append((child, key))
    lines: list[str] = []
    printed: set[str] = set()

    def label(node: str) -> list[str]:
        """The node's line, then its figures' line for artifacts that have some."""
        kind, number = node[0], int(node[1:])
        if kind == "e":
            return [execution_label(executions[number])]
        info = artifacts[number]
        figures = _figures(info.properties)
        return [artifact_label(info)] + ([figures] if figures else [])

    def walk(node: str, key: str, prefix: str, last: bool, top: bool) -> None:
        branch = "" if top else ("└── " if last else "├── ")
        pad = prefix + ("" if top else ("    " if last else "│   "))
        via = f"[{key}] " if key else ""
        head, *rest = label(node)
        if node in printed:
            lines.append(f"{prefix}{branch}{via}{head}  (see above)")
            return
        lines.append(f"{prefix}{branch}{via}{head}")
        kids = sorted(children.get(node, []), key=lambda c: (c[0][0], int(c[0][1:])))
        lines.extend(f"{pad}{'│   ' if kids else '    '}{extra}" for extra in rest)
        printed.add(node)
        for i, (child, child_key) in enumerate(kids):
            walk(child, child_key, pad, i == len(kids) - 1, False)

    walk(f"a{graph['root']}", "", "", True, True)
    return "\n".join(lines)


def to_dot(graph: dict) -> str:
    lines = ["digraph lineage {", "  rankdir=LR;", '  node [fontname="Helvetica", fontsize=10];']
    for a in graph["artifacts"].values():
        text = f"{a.type} #{a.id}\\n{a.node}.{a.output_key}" if a.node else f"{a.type} #{a.id}"
        figures = _figures(a.properties).replace("  ", "\\n")
        lines.append(f'  a{a.id} [shape=note, label="{text}' + (f"\\n{figures}" if figures
                                                                 else "") + '"];')
    for e in graph["executions"].values():
        lines.append(f'  e{e.id} [shape=box, style="rounded,filled", fillcolor="#dbe9f6", '
                     f'label="{e.node}\\nexecution #{e.id} {e.state}"];')
    for source, target, key in graph["edges"]:
        lines.append(f'  {source} -> {target} [label="{key}", fontsize=8];')
    lines.append("}")
    return "\n".join(lines) + "\n"


def to_mermaid(graph: dict) -> str:
    lines = ["flowchart LR"]
    for a in graph["artifacts"].values():
        lines.append(f'  a{a.id}[/"{a.type} #{a.id}<br/>{a.node}.{a.output_key}"/]')
    for e in graph["executions"].values():
        lines.append(f'  e{e.id}("{e.node}<br/>#{e.id} {e.state}")')
    for source, target, key in graph["edges"]:
        lines.append(f"  {source} -->|{key}| {target}" if key else f"  {source} --> {target}")
    return "\n".join(lines) + "\n"


def to_png(graph: dict, path: str) -> None:
    """Renders the DOT text with Graphviz's `dot`; RuntimeError with a remedy when it is absent."""
    dot = shutil.which("dot")
    if dot is None:
        raise RuntimeError(
            "PNG needs Graphviz's `dot` program, which is not installed: install it "
            "(`sudo apt-get install graphviz`) or use --format dot / --format mermaid")
    subprocess.run([dot, "-Tpng", "-o", path], input=to_dot(graph).encode(), check=True,
                   timeout=60)


def runs_table(runs: list[RunInfo]) -> str:
    lines = []
    for run in runs:
        lines.append(f"run {run.id}  {run.name}  started {run.started}  {run.state}")
        for node, state in run.components.items():
            lines.append(f"    {node:<18} {state}")
    return "\n".join(lines) if lines else "No runs."


def artifacts_table(artifacts: list[ArtifactInfo]) -> str:
    lines = []
    for a in artifacts:
        made_by = f"{a.node}.{a.output_key}" if a.node else "-"
        lines.append(f"{a.id:>4}  {a.type:<18} {a.state:<6} {made_by:<28} {a.uri}")
        figures = _figures(a.properties)
        if figures:
            lines.append(f"      {figures}")
    return "\n".join(lines) if lines else "No artifacts."


def compare_table(result: dict) -> str:
    figures = result["figures"]
    p, f = properties, report.FIGURE  # the trainers' properties, the exporter's figures
    lines = [f"Run {result['run']}"]
    rows = [
        ("accuracy (eval split)", ("baseline", p.TEST_ACCURACY), ("pruned", p.TEST_ACCURACY),
         ("tflite", f.int8_tflite_accuracy)),
        ("loss", ("baseline", p.TEST_LOSS), ("pruned", p.TEST_LOSS), None),
        ("sparsity", None, ("pruned", p.SPARSITY), ("tflite", f.int8_tflite_sparsity)),
        ("parameters", ("baseline", p.NUM_PARAMETERS), ("pruned", p.NUM_PARAMETERS), None),
        ("gzip bytes (float / int8 TFLite)", ("tflite", f.gzip_bytes_baseline_float_tflite),
         None, ("tflite", f.gzip_bytes_pruned_int8_tflite)),
        ("latency ms (float / int8 TFLite)", None, ("tflite", f.latency_ms_pruned_float),
         ("tflite", f.latency_ms_pruned_int8)),
    ]
    lines.append(f"{'':<34} {'baseline':>12} {'pruned':>12} {'int8 TFLite':>12}")
    for title, *cells in rows:
        values = []
        for cell in cells:
            value = figures.get(cell[0], {}).get(cell[1]) if cell else None
            values.append("-" if value is None else (f"{value:.4f}" if isinstance(value, float)
                                                     else f"{value:,}"))
        lines.append(f"{title:<34} {values[0]:>12} {values[1]:>12} {values[2]:>12}")
    tflite, pruned = figures.get("tflite", {}), figures.get("pruned", {})
    if f.compression_ratio in tflite:
        lines.append(f"compression ratio (baseline float / pruned int8 gzip): "
                     f"{tflite[f.compression_ratio]:.1f}x")
    if p.CLUSTERS in pruned:
        lines.append(f"clusters per pruned kernel: {pruned[p.CLUSTERS]}")
    gate, push = figures.get("gate", {}), figures.get("push", {})
    if p.BLESSED in gate:
        lines.append(f"Evaluator: {'blessed' if gate[p.BLESSED] else 'NOT blessed'}")
    if p.PUSHED in push:
        where = push.get(p.PUSHED_DESTINATION, "")
        lines.append(f"Pusher: {'pushed to ' + where if push[p.PUSHED] else 'nothing pushed'}")
    return "\n".join(lines)
