"""Runs PruneTrainer's executor on the tiny test inputs in its own process, for the kill test.

    python -m tests.components.prune_trainer.run_executor WORK_DIR [--kill-after-epoch N]

Same inputs, parameters and output URIs on every call, as a retried execution has. With
`--kill-after-epoch N` the process SIGKILLs itself right after epoch N's checkpoint, like a
preempted worker. The executor's progress lines go to stderr, as in a pipeline's log.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
from pathlib import Path

from tfx.types import standard_artifacts

from components.prune_trainer import component as prune_component
from components.prune_trainer import executor
from pruning.sparsity import prune
from tests.components import support
from tests.components.prune_trainer.helpers import component_exec_properties

logging.basicConfig(level=logging.INFO, format="%(message)s")


def artifact(cls, uri: Path):
    instance = cls()
    instance.uri = str(uri)
    return instance


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("work_dir", type=Path)
    parser.add_argument("--kill-after-epoch", type=int, default=0)
    args = parser.parse_args()
    inputs_dir = args.work_dir / "inputs"
    if not inputs_dir.exists():
        inputs_dir.mkdir(parents=True)
        support.write_examples(inputs_dir)
        support.write_schema(inputs_dir)
        support.write_base_model(inputs_dir / "base_model")
    examples = artifact(standard_artifacts.Examples, inputs_dir / "examples")
    examples.split_names = '["train", "eval"]'
    outputs = {
        "model": [artifact(standard_artifacts.Model, args.work_dir / "node/model/7")],
        "model_run": [artifact(standard_artifacts.ModelRun, args.work_dir / "node/model_run/7")],
        "checkpoint": [artifact(prune_component.PruningCheckpoint,
                                args.work_dir / "node/checkpoint/7")],
    }
    inputs = {
        "examples": [examples],
        "schema": [artifact(standard_artifacts.Schema, inputs_dir / "schema")],
        "base_model": [artifact(standard_artifacts.Model, inputs_dir / "base_model")],
    }
    if args.kill_after_epoch:
        original = prune.prune_and_fine_tune

        def killed_after_epoch(*a, **kw):
            hook = kw["on_epoch_end"]

            def on_epoch_end(epoch: int, loss: float) -> None:
                hook(epoch, loss)
                if epoch + 1 == args.kill_after_epoch:
                    os.kill(os.getpid(), signal.SIGKILL)

            return original(*a, **{**kw, "on_epoch_end": on_epoch_end})

        prune.prune_and_fine_tune = killed_after_epoch
    executor.Executor().Do(inputs, outputs, component_exec_properties())
    model = outputs["model"][0]
    checkpoint = outputs["checkpoint"][0]
    report = {
        "resumed_from_epoch": model.get_int_custom_property("resumed_from_epoch"),
        "optimizer_iterations": checkpoint.get_int_custom_property("optimizer_iterations"),
        "sparsity": model.get_float_custom_property("sparsity"),
    }
    (args.work_dir / "report.json").write_text(json.dumps(report))


if __name__ == "__main__":
    main()
