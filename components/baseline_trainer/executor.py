"""TFX's Trainer executor, plus the model's figures as custom properties in ML Metadata.

`run_fn` can only write files; this executor reads the `metrics.json` it wrote into the Model
artifact and records `test_accuracy`, `test_loss`, `num_parameters` (and the rest) on the artifact.
"""

from __future__ import annotations

from typing import Any

from tfx import types
from tfx.components.trainer import executor as trainer_executor
from tfx.types import artifact_utils, standard_component_specs

from components import model_artifact, properties


class Executor(trainer_executor.GenericExecutor):
    def Do(
        self,
        input_dict: dict[str, list[types.Artifact]],
        output_dict: dict[str, list[types.Artifact]],
        exec_properties: dict[str, Any],
    ) -> None:
        super().Do(input_dict, output_dict, exec_properties)
        model = artifact_utils.get_single_instance(output_dict[standard_component_specs.MODEL_KEY])
        properties.record(model, model_artifact.read_metrics(model.uri))
