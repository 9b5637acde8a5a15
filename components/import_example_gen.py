"""ImportExampleGen: TFX's ExampleGen over the user's own TFRecords, with this project's executor.

TFX's `ImportExampleGen` with its driver (the input fingerprint of the files' names, sizes and
times, so one changed file runs it again) and its output (gzipped TFRecords of tf.Example under
`Split-train/` and `Split-eval/`), given three parameters more: which features hold the image and
the label, and the raw pixels' shape. Its executor extends TFX's:

- before any Beam job, the first record of each split says whether the data fits
  (`pruning.records.inspect_dir`): a missing feature (the features there are listed), raw pixels
  that do not fill the shape, an empty split, a file that is not TFRecord each fail the step at
  once, named;
- each file is read with the compression its own first bytes say (gzip or none), not its name,
  through Beam's filesystems or, for a URI only TensorFlow reads (ram://), through tf.io.gfile
  (`components.beam_records`);
- the Examples get the data's `ImageFormat` (`examples.record_format`), which every later step
  reads them with.
"""

from __future__ import annotations

import os
from typing import Any

import apache_beam as beam
import tensorflow as tf
from tfx import types
from tfx.components.example_gen import driver
from tfx.components.example_gen.import_example_gen import executor as import_executor
from tfx.dsl.components.base import base_beam_component, executor_spec
from tfx.proto import example_gen_pb2
from tfx.types import artifact_utils, standard_artifacts, standard_component_specs
from tfx.types.component_spec import ExecutionParameter

from components import examples as examples_lib
from components.beam_records import ReadTFRecords
from pruning import records

IMAGE_FEATURE_KEY = "image_feature"
LABEL_FEATURE_KEY = "label_feature"
IMAGE_SHAPE_KEY = "image_shape"  # "height,width,channels" of raw pixels; "" when encoded
# The user's directory layout: one subdirectory per split.
INPUT_CONFIG = example_gen_pb2.Input(splits=[
    example_gen_pb2.Input.Split(name=split, pattern=f"{split}/*") for split in records.SPLITS])


def parse_shape(text: str) -> tuple[int, int, int] | None:
    return tuple(int(part) for part in text.split(",")) if text else None


@beam.ptransform_fn
@beam.typehints.with_input_types(beam.Pipeline)
@beam.typehints.with_output_types(tf.train.Example)
def _ReadUserRecords(pipeline: beam.Pipeline, exec_properties: dict[str, Any],
                     split_pattern: str) -> beam.PCollection:
    """Every file of the split, each read with the compression its content says, through
    Beam's filesystems or, for a URI only TensorFlow reads, through tf.io.gfile."""
    pattern = os.path.join(exec_properties[standard_component_specs.INPUT_BASE_KEY],
                           split_pattern)
    files = sorted(path for path in tf.io.gfile.glob(pattern) if not tf.io.gfile.isdir(path))
    return (pipeline | "ReadTFRecords" >> ReadTFRecords(files)
            | "ToTFExample" >> beam.Map(tf.train.Example.FromString))


class Executor(import_executor.Executor):
    def GetInputSourceToExamplePTransform(self) -> beam.PTransform:
        return _ReadUserRecords

    def Do(self, input_dict: dict[str, list[types.Artifact]],
           output_dict: dict[str, list[types.Artifact]], exec_properties: dict[str, Any]):
        image_format = records.inspect_dir(
            exec_properties[standard_component_specs.INPUT_BASE_KEY],
            exec_properties[IMAGE_FEATURE_KEY], exec_properties[LABEL_FEATURE_KEY],
            parse_shape(exec_properties.get(IMAGE_SHAPE_KEY) or ""))
        result = super().Do(input_dict, output_dict, exec_properties)
        examples_lib.record_format(
            artifact_utils.get_single_instance(
                output_dict[standard_component_specs.EXAMPLES_KEY]), image_format)
        return result


class ImportExampleGenSpec(standard_component_specs.FileBasedExampleGenSpec):
    PARAMETERS = {
        **standard_component_specs.FileBasedExampleGenSpec.PARAMETERS,
        IMAGE_FEATURE_KEY: ExecutionParameter(type=str),
        LABEL_FEATURE_KEY: ExecutionParameter(type=str),
        IMAGE_SHAPE_KEY: ExecutionParameter(type=str),
    }


class ImportExampleGen(base_beam_component.BaseBeamComponent):
    """Outputs `examples`: the user's tf.Examples of `examples_dir`'s `train/` and `eval/`.

    Args:
      examples_dir: a directory (local or a bucket URI) with `train/` and `eval/` of TFRecord
        files of tf.Example, gzipped or not.
      image_feature, label_feature: the features holding the image and the int64 class.
      image_shape: (height, width, channels) of raw pixels; None for PNG or JPEG images.
    """

    SPEC_CLASS = ImportExampleGenSpec
    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(Executor)
    DRIVER_CLASS = driver.FileBasedDriver

    def __init__(self, examples_dir: str, image_feature: str, label_feature: str,
                 image_shape: tuple[int, int, int] | None = None):
        super().__init__(spec=ImportExampleGenSpec(
            input_base=examples_dir,
            input_config=INPUT_CONFIG,
            output_config=example_gen_pb2.Output(),  # the input's splits, as they are
            output_data_format=example_gen_pb2.FORMAT_TF_EXAMPLE,
            output_file_format=example_gen_pb2.FORMAT_TFRECORDS_GZIP,
            **{IMAGE_FEATURE_KEY: image_feature, LABEL_FEATURE_KEY: label_feature,
               IMAGE_SHAPE_KEY: ",".join(map(str, image_shape)) if image_shape else ""},
            examples=types.Channel(type=standard_artifacts.Examples)))
