"""The baseline Trainer: TFX's Trainer, plus the ExampleValidator's anomalies as an input.

TFX's `Trainer` takes no anomalies, so nothing ties training to validation: on Kubeflow the two
run side by side, and a model is trained from data the validator rejected. This component keeps
the Trainer's spec (its executor is TFX's `GenericExecutor`, extended) and adds the
`anomalies` input, so training waits for the validation, its lineage records which validation it
passed, and the executor stops before reading an example when anomalies were found
(`stop_on_anomalies`, `components/anomalies.py`).
"""

from __future__ import annotations

from tfx.dsl.components.base import base_component, executor_spec
from tfx.proto import trainer_pb2
from tfx.types import Channel, standard_artifacts
from tfx.utils import json_utils

from components.baseline_trainer.executor import Executor
from components.baseline_trainer.spec import BaselineTrainerSpec


class BaselineTrainer(base_component.BaseComponent):
    """Outputs `model` and `model_run`, as TFX's Trainer does.

    Args:
      run_fn: import path of the training function (`baseline_trainer.RUN_FN`).
      examples, schema: the ExampleGen and SchemaGen outputs.
      anomalies: the ExampleValidator's output for those examples.
      stop_on_anomalies: fail before training when `anomalies` holds any; False logs them.
      train_args, eval_args, custom_config: as TFX's Trainer.
      base_model: optional Model of a model already trained (TFX's Importer of the user's file):
        the Trainer does not train it, it measures it and writes it as this project's Model.
    """

    SPEC_CLASS = BaselineTrainerSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(Executor)

    def __init__(
        self,
        run_fn: str,
        examples: Channel,
        schema: Channel,
        anomalies: Channel,
        stop_on_anomalies: bool = True,
        train_args: trainer_pb2.TrainArgs | None = None,
        eval_args: trainer_pb2.EvalArgs | None = None,
        custom_config: dict | None = None,
        base_model: Channel | None = None,
    ):
        super().__init__(spec=BaselineTrainerSpec(
            run_fn=run_fn,
            examples=examples,
            schema=schema,
            base_model=base_model,
            anomalies=anomalies,
            stop_on_anomalies=int(stop_on_anomalies),
            train_args=train_args or trainer_pb2.TrainArgs(),
            eval_args=eval_args or trainer_pb2.EvalArgs(),
            custom_config=json_utils.dumps(custom_config or {}),
            model=Channel(type=standard_artifacts.Model),
            model_run=Channel(type=standard_artifacts.ModelRun),
        ))
