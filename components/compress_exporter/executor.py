"""CompressExporter's executor: maps artifacts to the arguments of
`pruning.compression.compress.compress_models`, and its report to the output artifacts."""

from __future__ import annotations

import dataclasses
import logging
import os
import shutil
import tempfile
from typing import Any

from tfx import types
from tfx.dsl.components.base import base_executor
from tfx.types import artifact_utils
from tfx.utils import io_utils

from components import examples, model_artifact, properties
from components.compress_exporter import spec
from pruning.compression.report import saved_model_dir
from pruning.params import CompressionParams, TrainingParams

log = logging.getLogger(__name__)


def blessing_state(input_dict: dict) -> bool | None:
    """True/False from the Evaluator's ModelBlessing; None when there is none."""
    artifacts = input_dict.get(spec.BLESSING_KEY) or []
    if not artifacts:
        return None
    blessing = artifact_utils.get_single_instance(artifacts)
    return bool(blessing.get_int_custom_property(properties.BLESSED))


def assemble_serving_dir(compressed_dir: str) -> str:
    """`Format-Serving/` in a local directory: the pruned SavedModel with `pruned_int8.tflite`
    beside saved_model.pb, which is what TFX's Pusher copies to the serving directory."""
    target = os.path.join(compressed_dir, spec.SERVING_DIR)
    shutil.copytree(os.path.join(compressed_dir, saved_model_dir("pruned")), target)
    shutil.copy(os.path.join(compressed_dir, spec.PUSHED_TFLITE), target)
    return target


class Executor(base_executor.BaseExecutor):
    def Do(
        self,
        input_dict: dict[str, list[types.Artifact]],
        output_dict: dict[str, list[types.Artifact]],
        exec_properties: dict[str, Any],
    ) -> None:
        # The library (TensorFlow Model Optimization, LiteRT, matplotlib) loads when the component
        # runs, not each time a pipeline that holds this component is defined.
        from pruning import data
        from pruning.compression import documents
        from pruning.compression.compress import compress_models

        self._log_startup(input_dict, output_dict, exec_properties)
        params = CompressionParams.from_json(exec_properties[spec.COMPRESSION_KEY])
        examples_artifact = artifact_utils.get_single_instance(input_dict[spec.EXAMPLES_KEY])
        image_format = examples.format_of(examples_artifact)
        eval_images, eval_labels = data.read_split(
            examples_artifact.uri, exec_properties[spec.EVAL_SPLIT_KEY],
            image_format=image_format)
        # PQAT trains on the whole split; otherwise only its head calibrates quantization.
        train_images, train_labels = data.read_split(
            examples_artifact.uri, exec_properties[spec.REPRESENTATIVE_SPLIT_KEY],
            None if params.pqat_epochs else params.representative_examples, image_format)
        baseline = model_artifact.load_model(
            artifact_utils.get_single_uri(input_dict[spec.BASELINE_MODEL_KEY]))
        pruned = model_artifact.load_model(
            artifact_utils.get_single_uri(input_dict[spec.MODEL_KEY]))
        compressed = artifact_utils.get_single_instance(output_dict[spec.COMPRESSED_KEY])
        report_artifact = artifact_utils.get_single_instance(output_dict[spec.REPORT_KEY])

        # Written locally first (sizes are measured on local files), then copied to the
        # artifacts' URIs, which may be remote (gs://) on Kubeflow.
        with tempfile.TemporaryDirectory(prefix="compress_exporter_") as work:
            local_compressed = os.path.join(work, "compressed")
            local_report = os.path.join(work, "report")
            report = compress_models(
                baseline, pruned, local_compressed, eval_images, eval_labels, train_images,
                train_labels, params,
                training=TrainingParams.from_json(exec_properties[spec.TRAINING_KEY]),
                image_format=image_format,
                progress=lambda message: log.info("CompressExporter: %s", message),
            ).with_blessing(blessing_state(input_dict))
            assemble_serving_dir(local_compressed)
            documents.write_documents(report, local_report)
            io_utils.copy_dir(local_compressed, compressed.uri)
            io_utils.copy_dir(local_report, report_artifact.uri)
        log.info("CompressExporter: compression ratio %.1fx, report in %s",
                 report.summary.compression_ratio,
                 os.path.join(report_artifact.uri, documents.REPORT_HTML))
        for artifact in (compressed, report_artifact):
            properties.record(artifact, dataclasses.asdict(report.summary))
