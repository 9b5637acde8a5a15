"""The baseline Trainer's spec: TFX's TrainerSpec plus the ExampleValidator's anomalies."""

from tfx.types import standard_artifacts, standard_component_specs
from tfx.types.component_spec import ChannelParameter, ExecutionParameter

# Inputs (TFX's Trainer keys, and one more)
ANOMALIES_KEY = standard_component_specs.ANOMALIES_KEY  # "anomalies", as the validator names it
# Parameters
STOP_ON_ANOMALIES_KEY = "stop_on_anomalies"  # 1 = fail when anomalies were found, 0 = warn


class BaselineTrainerSpec(standard_component_specs.TrainerSpec):
    PARAMETERS = {
        **standard_component_specs.TrainerSpec.PARAMETERS,
        STOP_ON_ANOMALIES_KEY: ExecutionParameter(type=int),
    }
    INPUTS = {
        **standard_component_specs.TrainerSpec.INPUTS,
        ANOMALIES_KEY: ChannelParameter(type=standard_artifacts.ExampleAnomalies),
    }
