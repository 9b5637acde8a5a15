"""The pipeline's node ids, and the outputs that readers look up, in one place.

`pipeline.py` gives every component its id from here (`.with_id`), and `make run`'s summary,
`make bench` and `prune-lineage` find artifacts by these ids, output keys and type names, so a
renamed node cannot silently break them. Plain strings: no TensorFlow (the specs, which import
TFX, are checked against these by tests/pipelines/test_nodes.py).
"""

from __future__ import annotations

import dataclasses

EXAMPLE_GEN = "TfdsExampleGen"
IMPORT_EXAMPLE_GEN = "ImportExampleGen"  # with EXAMPLES_DIR, in EXAMPLE_GEN's place
STATISTICS_GEN = "StatisticsGen"
SCHEMA_GEN = "SchemaGen"
EXAMPLE_VALIDATOR = "ExampleValidator"
TRAINER = "Trainer"
WARM_START_RESOLVER = "latest_pruning_checkpoint"
BASE_MODEL_IMPORTER = "BaseModelImporter"  # with BASE_MODEL: TFX's Importer of the user's file
PRUNE_TRAINER = "PruneTrainer"
EVALUATOR = "Evaluator"
COMPRESS_EXPORTER = "CompressExporter"
PUSHER = "Pusher"
ALL = (EXAMPLE_GEN, STATISTICS_GEN, SCHEMA_GEN, EXAMPLE_VALIDATOR, TRAINER, PRUNE_TRAINER,
       EVALUATOR, COMPRESS_EXPORTER, PUSHER)


@dataclasses.dataclass(frozen=True)
class Output:
    """An output channel of a node: the node id, the output key and the artifact type name."""

    node: str
    key: str
    type: str


EXAMPLES = Output(EXAMPLE_GEN, "examples", "Examples")
IMPORTED_EXAMPLES = Output(IMPORT_EXAMPLE_GEN, "examples", "Examples")
IMPORTED_MODEL = Output(BASE_MODEL_IMPORTER, "result", "Model")
BASELINE_MODEL = Output(TRAINER, "model", "Model")
PRUNED_MODEL = Output(PRUNE_TRAINER, "model", "Model")
CHECKPOINT = Output(PRUNE_TRAINER, "checkpoint", "components.PruningCheckpoint")
BLESSING = Output(EVALUATOR, "blessing", "ModelBlessing")
COMPRESSED = Output(COMPRESS_EXPORTER, "compressed", "Model")
REPORT = Output(COMPRESS_EXPORTER, "report", "components.CompressionReport")
PUSHED_MODEL = Output(PUSHER, "pushed_model", "PushedModel")
