"""TfdsExampleGen's spec and the keys its component, executor and tests share."""

from tfx.types import standard_component_specs
from tfx.types.component_spec import ExecutionParameter

# Execution parameter keys (the spec, the executor and the tests share these).
DATASET_KEY = "dataset"
DATA_DIR_KEY = "data_dir"
MANUAL_DIR_KEY = "manual_dir"
EXAMPLE_LIMIT_KEY = "example_limit"
NUM_SHARDS_KEY = "num_shards"

class TfdsExampleGenSpec(standard_component_specs.QueryBasedExampleGenSpec):
    """QueryBasedExampleGen's spec plus the TFDS parameters."""

    PARAMETERS = {
        **standard_component_specs.QueryBasedExampleGenSpec.PARAMETERS,
        DATASET_KEY: ExecutionParameter(type=str),
        DATA_DIR_KEY: ExecutionParameter(type=str, optional=True),
        MANUAL_DIR_KEY: ExecutionParameter(type=str, optional=True),
        EXAMPLE_LIMIT_KEY: ExecutionParameter(type=int, optional=True),
        NUM_SHARDS_KEY: ExecutionParameter(type=int),
    }
