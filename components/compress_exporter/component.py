"""CompressExporter: every deployable file of the baseline and the pruned model, measured.

Class-based like TFX's Pusher: a spec with the keys in one place, a thin component, an executor
that adapts `pruning.compress` and `pruning.report` (plain functions) to artifacts.
"""

from __future__ import annotations

from tfx.dsl.components.base import base_component, executor_spec
from tfx.types import Channel, standard_artifacts

from components.compress_exporter import executor
from components.compress_exporter.spec import (
    COMPRESSED_KEY,
    EVAL_SPLIT_KEY,
    LATENCY_RUNS_KEY,
    PQAT_EPOCHS_KEY,
    PQAT_LEARNING_RATE_KEY,
    REPORT_KEY,
    REPRESENTATIVE_EXAMPLES_KEY,
    REPRESENTATIVE_SPLIT_KEY,
    CompressExporterSpec,
    CompressionReport,
)


class CompressExporter(base_component.BaseComponent):
    """Outputs `compressed` (a Model artifact: SavedModel, Keras and three TFLite files of each
    model, plus `Format-Serving/` for Pusher) and `report` (CompressionReport).

    Args:
      baseline_model: the Trainer's Model.
      model: the PruneTrainer's (pruned) Model.
      examples: ExampleGen output; `eval_split` is measured whole, the first
        `representative_examples` of `representative_split` calibrate full-integer quantization.
      blessing: optional Evaluator blessing, recorded in the report.
      latency_runs: invocations per TFLite file whose median is its latency; 0 skips timing.
      pqat_epochs: > 0 adds `pruned_pqat_int8.tflite`, the pruned model after that many epochs
        of pruning-preserving quantization-aware training on `representative_split` (all of it)
        at `pqat_learning_rate`.
    """

    SPEC_CLASS = CompressExporterSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.Executor)

    def __init__(
        self,
        baseline_model: Channel,
        model: Channel,
        examples: Channel,
        blessing: Channel | None = None,
        eval_split: str = "eval",
        representative_split: str = "train",
        representative_examples: int = 500,
        latency_runs: int = 500,
        pqat_epochs: int = 0,
        pqat_learning_rate: float = 1e-4,
    ):
        if representative_examples < 1:
            raise ValueError(
                f"representative_examples must be >= 1, got {representative_examples}"
            )
        if latency_runs < 0:
            raise ValueError(f"latency_runs must be >= 0, got {latency_runs}")
        if pqat_epochs < 0:
            raise ValueError(f"pqat_epochs must be >= 0, got {pqat_epochs}")
        if pqat_learning_rate <= 0:
            raise ValueError(f"pqat_learning_rate must be > 0, got {pqat_learning_rate}")
        super().__init__(
            spec=CompressExporterSpec(
                baseline_model=baseline_model,
                model=model,
                examples=examples,
                blessing=blessing,
                **{
                    EVAL_SPLIT_KEY: eval_split,
                    REPRESENTATIVE_SPLIT_KEY: representative_split,
                    REPRESENTATIVE_EXAMPLES_KEY: representative_examples,
                    LATENCY_RUNS_KEY: latency_runs,
                    PQAT_EPOCHS_KEY: pqat_epochs,
                    PQAT_LEARNING_RATE_KEY: pqat_learning_rate,
                    COMPRESSED_KEY: Channel(type=standard_artifacts.Model),
                    REPORT_KEY: Channel(type=CompressionReport),
                },
            )
        )
