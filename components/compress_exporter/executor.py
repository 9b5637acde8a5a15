"""CompressExporter's executor: a thin adapter over `pruning.compress` and `pruning.report`."""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from typing import Any

from tfx import types
from tfx.dsl.components.base import base_executor
from tfx.types import artifact_utils
from tfx.utils import io_utils

from components import model_io
from components.compress_exporter import spec
from pruning import compress, data, report

log = logging.getLogger(__name__)


def blessing_state(input_dict: dict) -> bool | None:
    """True/False from the Evaluator's ModelBlessing; None when there is none."""
    artifacts = input_dict.get(spec.BLESSING_KEY) or []
    if not artifacts:
        return None
    blessing = artifact_utils.get_single_instance(artifacts)
    return bool(blessing.get_int_custom_property("blessed"))


def assemble_serving_dir(compressed_uri: str) -> str:
    """`Format-Serving/`: the pruned SavedModel with `pruned_int8.tflite` beside saved_model.pb,
    which is what TFX's Pusher copies to the serving directory."""
    target = os.path.join(compressed_uri, spec.SERVING_DIR)
    shutil.copytree(os.path.join(compressed_uri, "pruned_saved_model"), target)
    shutil.copy(os.path.join(compressed_uri, spec.PUSHED_TFLITE), target)
    return target


class Executor(base_executor.BaseExecutor):
    def Do(
        self,
        input_dict: dict[str, list[types.Artifact]],
        output_dict: dict[str, list[types.Artifact]],
        exec_properties: dict[str, Any],
    ) -> None:
        self._log_startup(input_dict, output_dict, exec_properties)
        compressed = artifact_utils.get_single_instance(output_dict[spec.COMPRESSED_KEY])
        report_artifact = artifact_utils.get_single_instance(output_dict[spec.REPORT_KEY])
        baseline = model_io.load_model(
            artifact_utils.get_single_uri(input_dict[spec.BASELINE_MODEL_KEY]))
        pruned = model_io.load_model(artifact_utils.get_single_uri(input_dict[spec.MODEL_KEY]))
        examples_uri = artifact_utils.get_single_uri(input_dict[spec.EXAMPLES_KEY])
        eval_images, eval_labels = data.read_split(
            examples_uri, exec_properties[spec.EVAL_SPLIT_KEY])
        representative_split = exec_properties[spec.REPRESENTATIVE_SPLIT_KEY]
        count = int(exec_properties[spec.REPRESENTATIVE_EXAMPLES_KEY])
        pqat = None
        pqat_epochs = int(exec_properties.get(spec.PQAT_EPOCHS_KEY) or 0)
        if pqat_epochs:  # PQAT trains on the whole split: read it once, calibrate on its head
            train_images, train_labels = data.read_split(examples_uri, representative_split)
            representative = train_images[:count]
            pqat = compress.PqatOptions(
                train_images, train_labels, epochs=pqat_epochs,
                learning_rate=float(exec_properties.get(spec.PQAT_LEARNING_RATE_KEY) or 1e-4))
        else:
            representative, _ = data.read_split(examples_uri, representative_split, count)
        log.info("CompressExporter: %d eval examples, %d representative examples",
                 len(eval_images), len(representative))

        # Written locally first (sizes are measured on local files), then copied to the
        # artifacts' URIs, which may be remote (gs://, s3://) on Kubeflow.
        with tempfile.TemporaryDirectory(prefix="compress_exporter_") as work:
            local_compressed = os.path.join(work, "compressed")
            local_report = os.path.join(work, "report")
            result = compress.compress_and_compare(
                baseline, pruned, local_compressed, eval_images, eval_labels,
                representative,
                latency_runs=int(exec_properties[spec.LATENCY_RUNS_KEY]),
                progress=lambda message: log.info("CompressExporter: %s", message),
                pqat=pqat,
            )
            blessed = blessing_state(input_dict)
            if blessed is not None:
                result["summary"]["blessed"] = blessed
            assemble_serving_dir(local_compressed)
            report.write_report(result, local_report)
            io_utils.copy_dir(local_compressed, compressed.uri)
            io_utils.copy_dir(local_report, report_artifact.uri)
        log.info("CompressExporter: compression ratio %.1fx, report in %s",
                 result["summary"]["compression_ratio"],
                 os.path.join(report_artifact.uri, report.REPORT_HTML))

        figures = {key: result["summary"][key] for key in spec.PROPERTY_KEYS
                   if key in result["summary"]}
        for artifact in (compressed, report_artifact):
            model_io.record_properties(artifact, figures)
