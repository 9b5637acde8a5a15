"""TFX's standard StatisticsGen, SchemaGen and Evaluator, each with an executor that extends
TFX's:

- StatisticsGen and Evaluator read the Examples with Beam, whose errors on a corrupt file
  ("Error -3 while decompressing data", "Not a valid TFRecord") do not say which file. When
  theirs fail, they read each file of the splits they read alone and, if one cannot be read to
  its end, raise `pruning.data.CorruptRecordsError` naming it (`examples.naming_corrupt_files`).
- SchemaGen writes its inferred Schema plus what the model needs of every example
  (`examples.constrain_schema`), so the ExampleValidator can find a label out of range or a
  feature missing from every example.

The components keep TFX's specs, parameters and outputs; only their executor classes differ.
"""

from __future__ import annotations

import os
from typing import Any

from tensorflow_metadata.proto.v0 import schema_pb2
from tfx import types
from tfx.components import Evaluator as TfxEvaluator
from tfx.components import SchemaGen as TfxSchemaGen
from tfx.components import StatisticsGen as TfxStatisticsGen
from tfx.components.evaluator import executor as evaluator_executor
from tfx.components.schema_gen import executor as schema_gen_executor
from tfx.components.statistics_gen import executor as statistics_gen_executor
from tfx.dsl.components.base import executor_spec
from tfx.types import artifact_utils, standard_component_specs
from tfx.utils import io_utils, json_utils

from components import examples


class StatisticsGenExecutor(statistics_gen_executor.Executor):
    def Do(self, input_dict: dict[str, list[types.Artifact]],
           output_dict: dict[str, list[types.Artifact]], exec_properties: dict[str, Any]):
        examples_artifacts = input_dict[standard_component_specs.EXAMPLES_KEY]
        excluded = _json_list(exec_properties, standard_component_specs.EXCLUDE_SPLITS_KEY)
        read = [split for artifact in examples_artifacts
                for split in artifact_utils.decode_split_names(artifact.split_names)
                if split not in excluded]
        with examples.naming_corrupt_files(examples_artifacts, read):
            return super().Do(input_dict, output_dict, exec_properties)


class EvaluatorExecutor(evaluator_executor.Executor):
    def Do(self, input_dict: dict[str, list[types.Artifact]],
           output_dict: dict[str, list[types.Artifact]], exec_properties: dict[str, Any]):
        # TFX's Evaluator reads `example_splits`, `eval` when none are given.
        read = _json_list(exec_properties, standard_component_specs.EXAMPLE_SPLITS_KEY) or [
            "eval"]
        with examples.naming_corrupt_files(
                input_dict[standard_component_specs.EXAMPLES_KEY], read):
            return super().Do(input_dict, output_dict, exec_properties)


class SchemaGenExecutor(schema_gen_executor.Executor):
    def Do(self, input_dict: dict[str, list[types.Artifact]],
           output_dict: dict[str, list[types.Artifact]], exec_properties: dict[str, Any]):
        result = super().Do(input_dict, output_dict, exec_properties)
        path = os.path.join(
            artifact_utils.get_single_uri(output_dict[standard_component_specs.SCHEMA_KEY]),
            schema_gen_executor.DEFAULT_FILE_NAME)
        inferred = io_utils.parse_pbtxt_file(path, schema_pb2.Schema())
        io_utils.write_pbtxt_file(path, examples.constrain_schema(inferred))
        return result


def _json_list(exec_properties: dict[str, Any], key: str) -> list[str]:
    return json_utils.loads(exec_properties.get(key) or "null") or []


class StatisticsGen(TfxStatisticsGen):
    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(StatisticsGenExecutor)


class SchemaGen(TfxSchemaGen):
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(SchemaGenExecutor)


class Evaluator(TfxEvaluator):
    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(EvaluatorExecutor)
