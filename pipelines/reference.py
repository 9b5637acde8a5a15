"""`make docs`: writes docs/options.md from the option declarations (pipelines/configs.py)."""

from __future__ import annotations

from pipelines import configs

REFERENCE = configs.PROJECT_ROOT / "docs" / "options.md"
GOALS = configs.PROJECT_ROOT / "docs" / "goals.md"


def reference_markdown() -> str:
    """docs/options.md: every option, by section, from the declarations (`make docs`)."""
    lines = ["# Options", "",
             "Generated from `pipelines/configs.py` by `make docs`; do not edit by hand. Every "
             "entry point (`make run`, `make run-beam`, `make bench`, `make faults`, `make "
             "kfp-compile`, `make kfp-local`, the `tfx` CLI) takes them: a flag beats its "
             "variable, which beats the default; an empty variable is unset. A bad value stops "
             "the run before TensorFlow is imported, with one line naming it (exit 2).", ""]
    sections: dict[str, list[configs.Option]] = {}
    for option in configs.OPTIONS.values():
        sections.setdefault(option.section, []).append(option)
    for title, options in sections.items():
        lines += [f"## {title}", "", "| variable | flag | type | default | what | sets |",
                  "|---|---|---|---|---|---|"]
        for option in options:
            default = _cell(option.default_text)
            if option.why:
                default += f" (why: {_cell(option.why)})"
            sets = ", ".join(_library_name(target) for target in option.sets)
            lines.append(f"| `{option.env}` | `{option.flag}` | {option.kind.__name__} | "
                         f"{default} | {_cell(option.help)} | {sets} |")
        lines.append("")
    return "\n".join(lines)


def _cell(text: str) -> str:
    """Text for a Markdown table cell: `|` and `<` escaped (`<dataset>` is no HTML tag)."""
    return text.replace("|", "\\|").replace("<", "\\<")


def _library_name(target: str) -> str:
    """'prune_training.epochs' -> '`TrainingParams.epochs` (PruneTrainer)'."""
    group, param = target.split(".")
    name = f"`{type(configs.PARAM_GROUPS[group]).__name__}.{param}`"
    return f"{name} (PruneTrainer)" if group == "prune_training" else name


def goals_markdown() -> str:
    """docs/goals.md: what `make bench` judges, from pipelines/bench.py's GOALS (`make docs`)."""
    from pipelines import bench, model_bench
    from pruning.compression import report

    def table(goals) -> list[str]:
        rows = ["| figure | what | goal | why |", "|---|---|---|---|"]
        for goal in goals:
            figure = report.FIGURES.get(goal.figure)
            what = figure.label if figure else goal.figure.replace("_", " ")
            rows.append(f"| `{goal.figure}` | {what} | {goal.comparison} {goal.value:g} | "
                        f"{goal.why} |")
        return rows

    lines = ["# Goals", "",
             "Generated from `pipelines/bench.py` and `pipelines/model_bench.py` by `make docs`; "
             "do not edit by hand. `make bench` judges each on its run of the default pipeline "
             "on full MNIST and prints met or NOT met; docs/benchmarks.md has the measured "
             "runs.", "", *table(bench.GOALS), "",
             "## Each model of `make bench BENCH_ARGS=\"--model ...\"`", "",
             "Judged for each model on its own run (the shipped ResNet-8 and DS-CNN are the "
             "models these goals were set for), against TFMOT's weight pruning alone of the "
             "same baseline; and `structured.narrow` on MobileNetV2 (96x96x3, alpha 0.35) in at "
             f"most {model_bench.NARROW_SECONDS_GOAL:g} s.", "", *table(model_bench.GOALS)]
    return "\n".join(lines) + "\n"


def main() -> None:
    REFERENCE.write_text(reference_markdown())
    GOALS.write_text(goals_markdown())
    print(f"Wrote {REFERENCE.relative_to(configs.PROJECT_ROOT)} ({len(configs.OPTIONS)} options)"
          f" and {GOALS.relative_to(configs.PROJECT_ROOT)}")


if __name__ == "__main__":
    main()
