"""TFX's standard StatisticsGen, SchemaGen, ExampleValidator and Evaluator, each with an
executor that extends TFX's:

- StatisticsGen and Evaluator read the Examples with Beam, whose errors on a corrupt file
  ("Error -3 while decompressing data", "Not a valid TFRecord") do not say which file. When
  theirs fail, they read each file of the splits they read alone and, if one cannot be read to
  its end, raise `pruning.data.CorruptRecordsError` naming it (`examples.naming_corrupt_files`).
- StatisticsGen also hands the Examples' image format and classes (`examples.record_format`)
  on to its statistics, where SchemaGen, which reads only statistics, finds them.
- StatisticsGen counts the sizes of encoded and raw images, which TFDV's statistics cannot
  tell, into them, and ExampleValidator reports any other size as an anomaly
  (`components.image_sizes`).
- SchemaGen writes its inferred Schema plus what the model needs of every example
  (`examples.constrain_schema`): the image feature of the format, and labels in the data's
  classes (the dataset's class list where the ExampleGen recorded one, else up to the train
  split's largest label), so the ExampleValidator can find a label out of range or a feature
  missing from every example.

The components keep TFX's specs, parameters and outputs; only their executor classes differ.
"""

from __future__ import annotations

import os
from typing import Any

from tensorflow_metadata.proto.v0 import schema_pb2
from tfx import types
from tfx.components import Evaluator as TfxEvaluator
from tfx.components import ExampleValidator as TfxExampleValidator
from tfx.components import SchemaGen as TfxSchemaGen
from tfx.components import StatisticsGen as TfxStatisticsGen
from tfx.components.evaluator import executor as evaluator_executor
from tfx.components.example_validator import executor as example_validator_executor
from tfx.components.example_validator import labels
from tfx.components.schema_gen import executor as schema_gen_executor
from tfx.components.statistics_gen import executor as statistics_gen_executor
from tfx.components.statistics_gen import stats_artifact_utils
from tfx.components.util import value_utils
from tfx.dsl.components.base import executor_spec
from tfx.types import artifact_utils, standard_component_specs
from tfx.utils import io_utils, json_utils, writer_utils

from components import examples, image_sizes


class StatisticsGenExecutor(statistics_gen_executor.Executor):
    def Do(self, input_dict: dict[str, list[types.Artifact]],
           output_dict: dict[str, list[types.Artifact]], exec_properties: dict[str, Any]):
        examples_artifacts = input_dict[standard_component_specs.EXAMPLES_KEY]
        excluded = _json_list(exec_properties, standard_component_specs.EXCLUDE_SPLITS_KEY)
        read = [split for artifact in examples_artifacts
                for split in artifact_utils.decode_split_names(artifact.split_names)
                if split not in excluded]
        image_format = examples.format_of(examples_artifacts[0])
        statistics = artifact_utils.get_single_instance(
            output_dict[standard_component_specs.STATISTICS_KEY])
        with examples.naming_corrupt_files(examples_artifacts, read):
            result = super().Do(input_dict, output_dict, exec_properties)
            if image_sizes.needs_pass(image_format):
                with self._make_beam_pipeline() as pipeline:
                    image_sizes.count_into_statistics(
                        pipeline,
                        {split: examples.split_files(examples_artifacts[0], [split])
                         for split in read},
                        {split: os.path.join(artifact_utils.get_split_uri([statistics], split),
                                             stats_artifact_utils.BINARY_PB_BASENAME)
                         for split in read},
                        image_format)
        examples.record_format(statistics, image_format,
                               examples.declared_classes(examples_artifacts[0]))
        return result


class ExampleValidatorExecutor(example_validator_executor.Executor):
    def _Validate(self, inputs: dict[str, Any], outputs: dict[str, Any]):
        """TFDV's anomalies plus images of another size (`image_sizes.anomalies`), written
        where TFX's are; the artifact's blessing follows from the returned anomalies."""
        found = super()._Validate(inputs, outputs)
        statistics = value_utils.GetSoleValue(inputs, standard_component_specs.STATISTICS_KEY)
        extra = image_sizes.anomalies(statistics)
        if extra:
            for name, info in extra.items():
                found.anomaly_info[name].CopyFrom(info)
            writer_utils.write_anomalies(
                os.path.join(value_utils.GetSoleValue(outputs, labels.SCHEMA_DIFF_PATH),
                             example_validator_executor.DEFAULT_FILE_NAME), found)
        return found


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
        statistics = artifact_utils.get_single_instance(
            input_dict[standard_component_specs.STATISTICS_KEY])
        image_format = examples.format_of(statistics)
        inferred = io_utils.parse_pbtxt_file(path, schema_pb2.Schema())
        classes = (examples.declared_classes(statistics)
                   or train_classes(statistics, image_format.label_key))
        io_utils.write_pbtxt_file(path, examples.constrain_schema(inferred, image_format,
                                                                  classes))
        return result


def train_classes(statistics: types.Artifact, label_key: str, split: str = "train") -> int:
    """The classes of the data: the `split` split's largest label, plus one."""
    from tensorflow_data_validation.utils import stats_util
    from tfx.components.statistics_gen import stats_artifact_utils

    view = stats_artifact_utils.load_statistics(statistics, split)
    feature = stats_util.get_feature_stats(view.proto().datasets[0],
                                           tfdv_path(label_key))
    return int(feature.num_stats.max) + 1


def tfdv_path(name: str):
    from tensorflow_data_validation import FeaturePath

    return FeaturePath([name])


def _json_list(exec_properties: dict[str, Any], key: str) -> list[str]:
    return json_utils.loads(exec_properties.get(key) or "null") or []


class StatisticsGen(TfxStatisticsGen):
    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(StatisticsGenExecutor)


class SchemaGen(TfxSchemaGen):
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(SchemaGenExecutor)


class ExampleValidator(TfxExampleValidator):
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(ExampleValidatorExecutor)


class Evaluator(TfxEvaluator):
    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(EvaluatorExecutor)
