"""TfdsExampleGen's driver: TFX's QueryBasedDriver plus an input fingerprint.

TFX's file-based ExampleGens put a fingerprint of their input files into the execution's
properties, which the cache key of local and Beam runs includes; TFX's query-based driver leaves
it empty, so an ExampleGen over changed data was served from the cache on its parameters alone.
This driver makes the dataset ready (what the executor would do first anyway) and fingerprints
the prepared files it will read (`tfds_source.fingerprint`).
"""

from __future__ import annotations

import logging
from typing import Any

from tfx.components.example_gen import driver
from tfx.orchestration import data_types

from components import properties
from components.tfds_example_gen import tfds_source
from components.tfds_example_gen.spec import DATA_DIR_KEY, DATASET_KEY, MANUAL_DIR_KEY

logger = logging.getLogger(__name__)
UNPREPARED = "unprepared"


def input_fingerprint(exec_properties: dict[str, Any]) -> str:
    """The prepared dataset's fingerprint; `unprepared: <reason>` when it cannot be prepared.

    A driver that raises leaves its execution RUNNING in ML Metadata, never FAILED: the error is
    left for the executor, which meets it again at once and fails the execution properly.
    """
    try:
        builder = tfds_source.prepare_dataset(
            exec_properties[DATASET_KEY],
            exec_properties.get(DATA_DIR_KEY),
            exec_properties.get(MANUAL_DIR_KEY),
        )
    except Exception as error:  # reported by the executor, which retries the same call
        logger.warning("TfdsExampleGen driver: dataset not ready (%s)", error)
        return f"{UNPREPARED}: {type(error).__name__}"
    return tfds_source.fingerprint(builder)


class Driver(driver.QueryBasedDriver):
    def resolve_exec_properties(
        self,
        exec_properties: dict[str, Any],
        pipeline_info: data_types.PipelineInfo,
        component_info: data_types.ComponentInfo,
    ) -> dict[str, Any]:
        exec_properties = super().resolve_exec_properties(
            exec_properties, pipeline_info, component_info)
        exec_properties[properties.INPUT_FINGERPRINT] = input_fingerprint(exec_properties)
        return exec_properties
