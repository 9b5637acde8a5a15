"""TFX's Trainer executor, behind the anomalies gate, plus the model's figures in ML Metadata.

Before `run_fn` reads an example, the ExampleValidator's anomalies are checked
(`components/anomalies.py`). `run_fn` can only write files; afterwards this executor reads the
`metrics.json` it wrote into the Model artifact and records `test_accuracy`, `test_loss`,
`num_parameters` (and the rest) on the artifact.
"""

from __future__ import annotations

from typing import Any

from tfx import types
from tfx.components.trainer import executor as trainer_executor
from tfx.types import artifact_utils, standard_component_specs

from components import anomalies, model_artifact, properties
from components.baseline_trainer.spec import ANOMALIES_KEY, STOP_ON_ANOMALIES_KEY


class Executor(trainer_executor.GenericExecutor):
    def Do(
        self,
        input_dict: dict[str, list[types.Artifact]],
        output_dict: dict[str, list[types.Artifact]],
        exec_properties: dict[str, Any],
    ) -> None:
        if not input_dict.get(ANOMALIES_KEY):
            raise ValueError(f"The Trainer needs the ExampleValidator's {ANOMALIES_KEY!r} for "
                             "its examples: it trains only on validated data")
        anomalies.check_examples(input_dict[ANOMALIES_KEY],
                                 stop=bool(exec_properties[STOP_ON_ANOMALIES_KEY]))
        result = super().Do(input_dict, output_dict, exec_properties)
        model = artifact_utils.get_single_instance(output_dict[standard_component_specs.MODEL_KEY])
        properties.record(model, model_artifact.read_metrics(model.uri))
        return result
