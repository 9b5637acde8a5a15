"""The baseline Trainer: TFX's standard Trainer, its run_fn, and an executor recording metrics."""

from components.baseline_trainer.executor import Executor
from components.baseline_trainer.module import RUN_FN

__all__ = ["RUN_FN", "Executor"]
