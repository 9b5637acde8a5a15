"""TFX's Trainer executor, behind the anomalies gate, plus the model's figures in ML Metadata.

Before `run_fn` reads an example, the ExampleValidator's anomalies are checked
(`components/anomalies.py`). `run_fn` can only write files; afterwards this executor reads the
`metrics.json` it wrote into the Model artifact and records `test_accuracy`, `test_loss`,
`num_parameters` (and the rest) on the artifact.

What `run_fn` cannot read from its `fn_args` the executor adds to `custom_config`: the Examples'
image format (`IMAGE_FORMAT_KEY`) and the Schema's number of classes (`NUM_CLASSES_KEY`), the
data's own; and with a `base_model` (the Importer's Model of a file the user trained), that
file's own URI (`BASE_MODEL_URI_KEY`): TFX's `fn_args.base_model` points inside a Model artifact
of TFX's layout, which a user's `.keras` file is not.
"""

from __future__ import annotations

from typing import Any

from tfx import types
from tfx.components.trainer import executor as trainer_executor
from tfx.types import artifact_utils, standard_component_specs
from tfx.utils import json_utils

from components import anomalies, examples, model_artifact, properties
from components.baseline_trainer.spec import (
    ANOMALIES_KEY,
    BASE_MODEL_URI_KEY,
    IMAGE_FORMAT_KEY,
    NUM_CLASSES_KEY,
    STOP_ON_ANOMALIES_KEY,
)


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
        key = standard_component_specs.CUSTOM_CONFIG_KEY
        config = json_utils.loads(exec_properties.get(key) or "null") or {}
        image_format = examples.format_of(
            artifact_utils.get_single_instance(input_dict[standard_component_specs.EXAMPLES_KEY]))
        config[IMAGE_FORMAT_KEY] = image_format.to_json()
        schema = input_dict.get(standard_component_specs.SCHEMA_KEY)
        if schema:
            config[NUM_CLASSES_KEY] = examples.num_classes(
                artifact_utils.get_single_uri(schema), image_format)
        base_model = input_dict.get(standard_component_specs.BASE_MODEL_KEY)
        if base_model:
            config[BASE_MODEL_URI_KEY] = artifact_utils.get_single_uri(base_model)
        exec_properties = {**exec_properties, key: json_utils.dumps(config)}
        result = super().Do(input_dict, output_dict, exec_properties)
        model = artifact_utils.get_single_instance(output_dict[standard_component_specs.MODEL_KEY])
        properties.record(model, model_artifact.read_metrics(model.uri))
        return result
