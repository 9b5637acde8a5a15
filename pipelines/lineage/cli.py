"""The `prune-lineage` command line (also `python -m pipelines.lineage`).

    prune-lineage runs
    prune-lineage artifacts [--type Model] [--run latest]
    prune-lineage lineage latest:pushed [--downstream]
    prune-lineage graph latest:tflite --format dot|mermaid|png [--output FILE]
    prune-lineage compare [--run RUN]
    prune-lineage --json ...            # every command, for scripts
    prune-lineage lineage latest:pushed --json --sqlite PATH   # options before or after

Errors (no store, unknown artifact, unreachable service) print one line and exit with 2.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Sequence

from pipelines.lineage import render
from pipelines.lineage.queries import SHORTCUTS, Lineage
from pipelines.lineage.store import LineageError, add_connection_flags, chosen_store, connect

EXIT_ERROR = 2


def _add_global_options(parser: argparse.ArgumentParser, defaults: bool = True) -> None:
    parser.add_argument("--json", action="store_true",
                        default=False if defaults else argparse.SUPPRESS,
                        help="print JSON instead of text")
    parser.add_argument("--pipeline", metavar="NAME",
                        default=None if defaults else argparse.SUPPRESS,
                        help="only this pipeline's runs and artifacts (a shared store holds "
                             "several); default: all")
    add_connection_flags(parser, defaults)


def build_parser() -> argparse.ArgumentParser:
    """Global options (--json, the store) go before or after the subcommand."""
    parser = argparse.ArgumentParser(
        prog="prune-lineage", description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    _add_global_options(parser)
    commands = parser.add_subparsers(dest="command", required=True)

    def command(name: str, helptext: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=helptext, description=helptext)
        _add_global_options(sub, defaults=False)
        return sub

    command("runs", "the pipeline's runs: start, state, components run or cached")
    artifacts = command("artifacts", "artifacts with their properties")
    artifacts.add_argument("--type", help="only this artifact type (Model, Examples, ...)")
    artifacts.add_argument("--run", help="only those of this run (name, id or `latest`)")
    shortcuts = ", ".join(f"latest:{s}" for s in SHORTCUTS)
    for name, helptext in (("lineage", "an artifact's provenance as an indented tree"),
                           ("graph", "the same lineage as a graph file")):
        sub = command(name, helptext)
        sub.add_argument("artifact", help=f"artifact id, URI, or {shortcuts}")
        sub.add_argument("--downstream", action="store_true",
                         help="what was made from the artifact instead of what it came from")
        if name == "graph":
            sub.add_argument("--format", choices=("dot", "mermaid", "png"), default="dot")
            sub.add_argument("--output", help="file to write (default: stdout; png: "
                                              "lineage.png)")
    compare = command("compare", "baseline vs pruned vs TFLite figures")
    compare.add_argument("--run", default="latest", help="run name, id or `latest` (default)")
    return parser


def _jsonable(value):
    if dataclasses.is_dataclass(value):
        return dataclasses.asdict(value)
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def run_command(args: argparse.Namespace) -> str:
    lineage = Lineage(connect(chosen_store(args)), args.pipeline)
    if args.command == "runs":
        result = lineage.runs()
        return _out(args, result, lambda: render.runs_table(result))
    if args.command == "artifacts":
        result = lineage.artifacts(args.type, args.run)
        return _out(args, result, lambda: render.artifacts_table(result))
    if args.command == "compare":
        result = lineage.compare(args.run)
        return _out(args, result, lambda: render.compare_table(result))
    graph = lineage.trace(lineage.resolve(args.artifact), downstream=args.downstream)
    if args.command == "lineage":
        return _out(args, graph, lambda: render.tree(graph))
    if args.format == "png":
        path = args.output or "lineage.png"
        try:
            render.to_png(graph, path)
        except RuntimeError as error:
            raise LineageError(str(error)) from None
        return json.dumps({"png": path}) if args.json else f"Wrote {path}"
    text = render.to_dot(graph) if args.format == "dot" else render.to_mermaid(graph)
    if args.output:
        with open(args.output, "w") as f:
            f.write(text)
        return json.dumps({args.format: args.output}) if args.json else f"Wrote {args.output}"
    if args.json:
        return json.dumps({"format": args.format, "content": text, "graph": _jsonable(graph)},
                          indent=2)
    return text.rstrip("\n")


def _out(args: argparse.Namespace, result, text) -> str:
    return json.dumps(_jsonable(result), indent=2) if args.json else text()


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        print(run_command(args))
    except LineageError as error:
        print(f"prune-lineage: error: {error}", file=sys.stderr)
        return EXIT_ERROR
    except OSError as error:  # e.g. an --output path that cannot be written
        print(f"prune-lineage: error: {error} ({chosen_store(args).describe()})", file=sys.stderr)
        return EXIT_ERROR
    return 0
