"""The baseline Trainer's spec: TFX's TrainerSpec plus the ExampleValidator's anomalies."""

from tfx.types import standard_artifacts, standard_component_specs
from tfx.types.component_spec import ChannelParameter, ExecutionParameter

# Inputs (TFX's Trainer keys, and one more)
ANOMALIES_KEY = standard_component_specs.ANOMALIES_KEY  # "anomalies", as the validator names it
# Parameters
STOP_ON_ANOMALIES_KEY = "stop_on_anomalies"  # 1 = fail when anomalies were found, 0 = warn
# The keys of `custom_config` (components/baseline_trainer/module.py says what each holds).
MODULE_CONFIG_KEY = "model_module"
MODEL_CONFIG_KEY = "model"
TRAINING_CONFIG_KEY = "training"
# Set by the executor, from the data: the Examples' image format, the Schema's classes, and the
# URI of the Importer's Model.
IMAGE_FORMAT_KEY = "image_format"
NUM_CLASSES_KEY = "num_classes"
BASE_MODEL_URI_KEY = "base_model_uri"
CONFIG_KEYS = (MODULE_CONFIG_KEY, MODEL_CONFIG_KEY, TRAINING_CONFIG_KEY, IMAGE_FORMAT_KEY,
               NUM_CLASSES_KEY, BASE_MODEL_URI_KEY)


class BaselineTrainerSpec(standard_component_specs.TrainerSpec):
    PARAMETERS = {
        **standard_component_specs.TrainerSpec.PARAMETERS,
        STOP_ON_ANOMALIES_KEY: ExecutionParameter(type=int),
    }
    INPUTS = {
        **standard_component_specs.TrainerSpec.INPUTS,
        ANOMALIES_KEY: ChannelParameter(type=standard_artifacts.ExampleAnomalies),
    }
