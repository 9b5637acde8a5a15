"""What the ExampleValidator found, read back, and the gate that stops training on it.

The ExampleValidator writes one `SchemaDiff.pb` (a tensorflow_metadata `Anomalies`) per split of
its ExampleAnomalies artifact. The baseline Trainer reads them before it reads any example and,
unless told otherwise, fails naming every anomaly: nothing is trained, pruned or pushed from data
that breaks the Schema.
"""

from __future__ import annotations

import logging
import os

from tensorflow_metadata.proto.v0 import anomalies_pb2
from tfx import types
from tfx.components.example_validator.executor import DEFAULT_FILE_NAME
from tfx.types import artifact_utils
from tfx.utils import io_utils

log = logging.getLogger(__name__)


class AnomaliesFoundError(ValueError):
    """The Examples break the Schema: training would learn from bad data."""


def read_anomalies(artifact: types.Artifact) -> dict[str, anomalies_pb2.Anomalies]:
    """Each validated split of an ExampleAnomalies artifact -> its Anomalies (any URI TensorFlow
    reads)."""
    return {
        split: anomalies_pb2.Anomalies.FromString(io_utils.read_bytes_file(
            os.path.join(artifact_utils.get_split_uri([artifact], split), DEFAULT_FILE_NAME)))
        for split in artifact_utils.decode_split_names(artifact.split_names)
    }


def describe(found: dict[str, anomalies_pb2.Anomalies]) -> list[str]:
    """One line per anomalous feature (or dataset) and split, with its reasons:
    'split train: label: Out-of-range values (Unexpectedly large value: 12.)'."""
    lines = []
    for split, anomalies in found.items():
        for feature, info in sorted(anomalies.anomaly_info.items()):
            lines.append(f"split {split}: {feature}: {_text(info)}")
        if anomalies.HasField("dataset_anomaly_info"):
            lines.append(f"split {split}: the dataset: {_text(anomalies.dataset_anomaly_info)}")
    return lines


def check_examples(artifacts: list[types.Artifact], stop: bool) -> None:
    """The gate: raises AnomaliesFoundError listing every anomaly when `stop`, else logs them as
    a warning."""
    lines = [line for artifact in artifacts for line in describe(read_anomalies(artifact))]
    if not lines:
        return
    listed = "; ".join(lines)
    if not stop:
        log.warning("Training despite anomalies in the Examples (stop_on_anomalies is off), "
                    "%d of them: %s", len(lines), listed)
        return
    raise AnomaliesFoundError(
        f"The ExampleValidator found anomalies in the Examples, {len(lines)} of them, so "
        f"training stops before it starts: {listed}. Fix the data, or turn the Trainer's "
        "stop_on_anomalies off to train anyway.")


def _text(info: anomalies_pb2.AnomalyInfo) -> str:
    details = "; ".join(reason.description for reason in info.reason if reason.description)
    return (info.short_description or info.description or "anomaly") + (
        f" ({details})" if details else "")
