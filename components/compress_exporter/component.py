"""CompressExporter: every deployable file of the baseline and the pruned model, measured.

Class-based like TFX's Pusher: a spec with the keys in one place, a thin component, an executor
that maps artifacts to the arguments of `pruning.compression.compress.compress_models`.
"""

from __future__ import annotations

from tfx.dsl.components.base import base_component, executor_spec
from tfx.types import Channel, standard_artifacts

from components.compress_exporter import executor
from components.compress_exporter.spec import (
    COMPRESSED_KEY,
    COMPRESSION_KEY,
    EVAL_SPLIT_KEY,
    REPORT_KEY,
    REPRESENTATIVE_SPLIT_KEY,
    TRAINING_KEY,
    CompressExporterSpec,
    CompressionReport,
)
from pruning.params import CompressionParams, TrainingParams


class CompressExporter(base_component.BaseComponent):
    """Outputs `compressed` (a Model artifact: SavedModel, Keras and three TFLite files of each
    model, plus `Format-Serving/` for Pusher) and `report` (CompressionReport).

    Args:
      baseline_model: the Trainer's Model.
      model: the PruneTrainer's (pruned) Model.
      examples: ExampleGen output; `eval_split` is measured whole, the first
        `compression.representative_examples` of `representative_split` calibrate full-integer
        quantization (and all of it trains PQAT, when `compression.pqat_epochs` > 0).
      blessing: optional Evaluator blessing, recorded in the report.
      compression: what is measured and whether PQAT runs (validated by CompressionParams).
      training: PQAT's batch size and seed (the pipeline gives the PruneTrainer's).
    """

    SPEC_CLASS = CompressExporterSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.Executor)

    def __init__(
        self,
        baseline_model: Channel,
        model: Channel,
        examples: Channel,
        blessing: Channel | None = None,
        compression: CompressionParams | None = None,
        training: TrainingParams | None = None,
        eval_split: str = "eval",
        representative_split: str = "train",
    ):
        super().__init__(
            spec=CompressExporterSpec(
                baseline_model=baseline_model,
                model=model,
                examples=examples,
                blessing=blessing,
                **{
                    EVAL_SPLIT_KEY: eval_split,
                    REPRESENTATIVE_SPLIT_KEY: representative_split,
                    COMPRESSION_KEY: (compression or CompressionParams()).to_json(),
                    TRAINING_KEY: (training or TrainingParams()).to_json(),
                    COMPRESSED_KEY: Channel(type=standard_artifacts.Model),
                    REPORT_KEY: Channel(type=CompressionReport),
                },
            )
        )
