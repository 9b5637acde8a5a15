"""The ML Metadata custom property names of this project's artifacts, in one place.

The components set them; `make run`'s summary, `make bench` and `prune-lineage` read them by
these names. Plain strings: no TensorFlow or TFX import.
"""

from __future__ import annotations

from collections.abc import Mapping

# Examples (TfdsExampleGen).
TFDS_DATASET = "tfds_dataset"
TFDS_VERSION = "tfds_version"
INPUT_FINGERPRINT = "input_fingerprint"  # TFX's name (example_gen.utils), set by the driver too
NUM_EXAMPLES_PREFIX = "num_examples_"  # + split name: num_examples_train, num_examples_eval


def num_examples(split: str) -> str:
    return NUM_EXAMPLES_PREFIX + split


# Model (both trainers); metrics.json beside the model holds the same names.
TEST_ACCURACY = "test_accuracy"  # on the whole eval split
TEST_LOSS = "test_loss"
NUM_EVAL_EXAMPLES = "num_eval_examples"
NUM_PARAMETERS = "num_parameters"
EPOCHS = "epochs"
TRAIN_SECONDS = "train_seconds"
KERAS_API = "keras_api"  # the project's CNN only
# Baseline Model (Trainer): where the model came from. A model module's name and the SHA-256 of
# the source the Trainer ran, or the URI of the trained model the Importer brought in.
MODEL_MODULE = "model_module"
MODEL_MODULE_SHA256 = "model_module_sha256"
IMPORTED_FROM = "imported_from"
# Pruned Model (PruneTrainer) in addition.
SPARSITY = "sparsity"  # zeros over all weights of the pruned kernels
CLUSTERS = "clusters"
PRUNED_LAYERS = "pruned_layers"
KEPT_CHANNELS = "kept_channels"  # after structured pruning: "conv1:8,...,dense1:48"; "" = off
RESUMED_FROM_EPOCH = "resumed_from_epoch"
WARM_STARTED = "warm_started"
# PruningCheckpoint.
EPOCHS_DONE = "epochs_done"
OPTIMIZER_ITERATIONS = "optimizer_iterations"
CHECKPOINT_PATH = "checkpoint_path"
# TFX's own: the Evaluator's ModelBlessing and the Pusher's PushedModel.
BLESSED = "blessed"
PUSHED = "pushed"
PUSHED_DESTINATION = "pushed_destination"
# CompressExporter's two outputs: every figure of pruning.compression.report.CompressionSummary,
# under its field name (declared there once, with where each is shown; blessed, above, too).


def record(artifact, values: Mapping[str, object]) -> None:
    """Scalar values as the artifact's custom properties (None, lists and dicts are skipped)."""
    for key, value in values.items():
        if isinstance(value, bool):
            artifact.set_int_custom_property(key, int(value))
        elif isinstance(value, int):
            artifact.set_int_custom_property(key, value)
        elif isinstance(value, float):
            artifact.set_float_custom_property(key, value)
        elif isinstance(value, str):
            artifact.set_string_custom_property(key, value)
