"""The baseline Trainer: TFX's standard Trainer, its run_fn, and an executor recording metrics."""

from components.baseline_trainer.executor import Executor

# TFX imports the module when the Trainer runs: the pipeline definition does not load it.
RUN_FN = "components.baseline_trainer.module.run_fn"

__all__ = ["RUN_FN", "Executor"]
