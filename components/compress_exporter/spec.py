"""CompressExporter's spec, its report artifact type, and the keys its parts and tests share."""

from tfx.types import artifact, standard_artifacts
from tfx.types.component_spec import ChannelParameter, ComponentSpec, ExecutionParameter

# Inputs
BASELINE_MODEL_KEY = "baseline_model"
MODEL_KEY = "model"  # the pruned model
EXAMPLES_KEY = "examples"
BLESSING_KEY = "blessing"
# Outputs
COMPRESSED_KEY = "compressed"
REPORT_KEY = "report"
# Parameters
EVAL_SPLIT_KEY = "eval_split"
REPRESENTATIVE_SPLIT_KEY = "representative_split"
REPRESENTATIVE_EXAMPLES_KEY = "representative_examples"
LATENCY_RUNS_KEY = "latency_runs"
PQAT_EPOCHS_KEY = "pqat_epochs"  # 0: no pruning-preserving QAT
PQAT_LEARNING_RATE_KEY = "pqat_learning_rate"

# What Pusher pushes: the `compressed` artifact's Format-Serving directory, i.e. the pruned
# SavedModel with the pruned full-integer TFLite file beside saved_model.pb.
SERVING_DIR = "Format-Serving"
PUSHED_TFLITE = "pruned_int8.tflite"
# Key figures recorded as custom properties on both output artifacts.
PROPERTY_KEYS = (
    "baseline_accuracy",
    "pruned_accuracy",
    "pruned_sparsity",
    "int8_tflite_accuracy",
    "int8_tflite_sparsity",
    "gzip_bytes_baseline_float_tflite",
    "gzip_bytes_pruned_int8_tflite",
    "compression_ratio",
    "latency_ms_float",
    "latency_ms_int8",
    "pqat_int8_tflite_accuracy",  # with pqat_epochs > 0 only
    "gzip_bytes_pruned_pqat_int8_tflite",  # with pqat_epochs > 0 only
    "blessed",  # with a blessing input only
)


class CompressionReport(artifact.Artifact):
    """report.json, report.md, report.html and the three comparison plots (PNG)."""

    TYPE_NAME = "components.CompressionReport"  # importable: see PruningCheckpoint


class CompressExporterSpec(ComponentSpec):
    PARAMETERS = {
        EVAL_SPLIT_KEY: ExecutionParameter(type=str),
        REPRESENTATIVE_SPLIT_KEY: ExecutionParameter(type=str),
        REPRESENTATIVE_EXAMPLES_KEY: ExecutionParameter(type=int),
        LATENCY_RUNS_KEY: ExecutionParameter(type=int),
        PQAT_EPOCHS_KEY: ExecutionParameter(type=int, optional=True),
        PQAT_LEARNING_RATE_KEY: ExecutionParameter(type=float, optional=True),
    }
    INPUTS = {
        BASELINE_MODEL_KEY: ChannelParameter(type=standard_artifacts.Model),
        MODEL_KEY: ChannelParameter(type=standard_artifacts.Model),
        EXAMPLES_KEY: ChannelParameter(type=standard_artifacts.Examples),
        BLESSING_KEY: ChannelParameter(type=standard_artifacts.ModelBlessing, optional=True),
    }
    OUTPUTS = {
        COMPRESSED_KEY: ChannelParameter(type=standard_artifacts.Model),
        REPORT_KEY: ChannelParameter(type=CompressionReport),
    }
