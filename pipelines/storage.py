"""Where the pipeline keeps artifacts, reads its data and pushes blessed models.

Light on purpose (no TensorFlow): the Kubeflow deploy command builds the same push destination.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from tfx.proto import pusher_pb2

from pipelines.configs import PipelineConfig


@dataclasses.dataclass(frozen=True)
class Storage:
    """The local runners use the paths the options resolve to. Kubeflow passes TFX
    `RuntimeParameter`s instead, so one compiled spec serves any bucket: their values are given
    when a run is submitted (kubeflow/runner.py)."""

    pipeline_root: Any
    tfds_data_dir: Any
    tfds_manual_dir: Any
    push_destination: Any  # a PushDestination, or its JSON as a runtime parameter

    @classmethod
    def local(cls, config: PipelineConfig) -> Storage:
        return cls(
            pipeline_root=config.pipeline_root,
            tfds_data_dir=config.tfds_data_dir,
            tfds_manual_dir=config.tfds_manual_dir,
            push_destination=push_destination(config.serving_model_dir),
        )


def push_destination(serving_model_dir: str) -> pusher_pb2.PushDestination:
    """The Pusher's destination: `<serving_model_dir>/<timestamp>/` for each blessed model."""
    return pusher_pb2.PushDestination(
        filesystem=pusher_pb2.PushDestination.Filesystem(base_directory=serving_model_dir))
