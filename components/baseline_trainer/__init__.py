"""The baseline Trainer: TFX's Trainer spec plus the ExampleValidator's anomalies, its run_fn,
and an executor that checks the anomalies first and records the model's metrics."""

from components.baseline_trainer.component import BaselineTrainer
from components.baseline_trainer.executor import Executor
from components.baseline_trainer.spec import (
    MODEL_CONFIG_KEY,
    MODULE_CONFIG_KEY,
    TRAINING_CONFIG_KEY,
)

# TFX imports the module when the Trainer runs: the pipeline definition does not load it.
RUN_FN = "components.baseline_trainer.module.run_fn"

__all__ = ["MODEL_CONFIG_KEY", "MODULE_CONFIG_KEY", "RUN_FN", "TRAINING_CONFIG_KEY",
           "BaselineTrainer", "Executor"]
