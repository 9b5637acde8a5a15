"""CompressExporter's spec, its report artifact type, and the keys its parts and tests share."""

from tfx.types import artifact, standard_artifacts
from tfx.types.component_spec import ChannelParameter, ComponentSpec, ExecutionParameter

from pruning.compression import report

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
COMPRESSION_KEY = "compression"  # JSON of pruning.params.CompressionParams
TRAINING_KEY = "training"  # JSON of pruning.params.TrainingParams: PQAT's batch size and seed

# What Pusher pushes: the `compressed` artifact's Format-Serving directory, i.e. the pruned
# SavedModel with the pruned full-integer TFLite file beside saved_model.pb.
SERVING_DIR = "Format-Serving"
PUSHED_TFLITE = report.DEPLOYED_FILE


class CompressionReport(artifact.Artifact):
    """report.json (a `pruning.compression.report.CompressionReport`), report.md, report.html
    and the three comparison plots (PNG)."""

    TYPE_NAME = "components.CompressionReport"  # importable: see PruningCheckpoint


class CompressExporterSpec(ComponentSpec):
    PARAMETERS = {
        EVAL_SPLIT_KEY: ExecutionParameter(type=str),
        REPRESENTATIVE_SPLIT_KEY: ExecutionParameter(type=str),
        COMPRESSION_KEY: ExecutionParameter(type=str),
        TRAINING_KEY: ExecutionParameter(type=str),
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
