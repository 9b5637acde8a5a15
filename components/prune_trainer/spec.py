"""PruneTrainer's spec, its artifact type, and the keys its component, executor and tests share."""

from tfx.types import artifact, standard_artifacts
from tfx.types.component_spec import ChannelParameter, ComponentSpec, ExecutionParameter

# Inputs
EXAMPLES_KEY = "examples"
SCHEMA_KEY = "schema"
BASE_MODEL_KEY = "base_model"
WARMUP_CHECKPOINT_KEY = "warmup_checkpoint"
# Outputs
MODEL_KEY = "model"
MODEL_RUN_KEY = "model_run"
CHECKPOINT_KEY = "checkpoint"
# Parameters
FILTERS_KEY = "filters"  # JSON of pruning.params.FilterParams; no filter_sparsity = off
PRUNING_KEY = "pruning"  # JSON of pruning.params.PruningParams
TRAINING_KEY = "training"  # JSON of pruning.params.TrainingParams
CLUSTERING_KEY = "clustering"  # JSON of pruning.params.ClusteringParams; clusters 0 = off
TRAIN_SPLIT_KEY = "train_split"
EVAL_SPLIT_KEY = "eval_split"


class PruningCheckpoint(artifact.Artifact):
    """A `tf.train.Checkpoint` of the wrapped model, its optimizer (slots, iterations) and epoch.

    What a later run's `warmup_checkpoint` continues from.
    """

    # "<importable module>.<class>": Kubeflow v2 encodes custom types by schema title and
    # imports that path inside the container (components/__init__.py exports the class).
    TYPE_NAME = "components.PruningCheckpoint"


class PruneTrainerSpec(ComponentSpec):
    PARAMETERS = {
        FILTERS_KEY: ExecutionParameter(type=str),
        PRUNING_KEY: ExecutionParameter(type=str),
        TRAINING_KEY: ExecutionParameter(type=str),
        CLUSTERING_KEY: ExecutionParameter(type=str),
        TRAIN_SPLIT_KEY: ExecutionParameter(type=str),
        EVAL_SPLIT_KEY: ExecutionParameter(type=str),
    }
    INPUTS = {
        EXAMPLES_KEY: ChannelParameter(type=standard_artifacts.Examples),
        SCHEMA_KEY: ChannelParameter(type=standard_artifacts.Schema),
        BASE_MODEL_KEY: ChannelParameter(type=standard_artifacts.Model),
        WARMUP_CHECKPOINT_KEY: ChannelParameter(type=PruningCheckpoint, optional=True),
    }
    OUTPUTS = {
        MODEL_KEY: ChannelParameter(type=standard_artifacts.Model),
        MODEL_RUN_KEY: ChannelParameter(type=standard_artifacts.ModelRun),
        CHECKPOINT_KEY: ChannelParameter(type=PruningCheckpoint),
    }
