"""The user's model against the options, before any training: one line naming the option.

The project's CNN is checked with the options themselves, from its layer table, before TensorFlow
is imported (pipelines/configs.py). Any other model can only be checked once it exists: this
builds it from `MODEL_MODULE` (or loads `BASE_MODEL`), in seconds, and checks that it takes the
data's images and gives its classes, and that the structured- and weight-pruning options fit
its graph (`pruning.sparsity.prune.check_model`). The data's shape and classes come from
`pipelines.data_check`, which reads them from the data first. The Trainer builds the model again
from the same source when the pipeline runs.
"""

from __future__ import annotations

from pipelines import configs
from pipelines.data_check import DataShape

# Classes to build a model with where the data's are counted only as the pipeline runs (the
# user's labels): the module is checked to build; the Trainer checks the count it gives.
UNCOUNTED_CLASSES = 10


def check_model(config: configs.PipelineConfig, data: DataShape) -> None:
    """SettingsError naming the option at fault; nothing for the project's CNN."""
    if config.project_cnn:
        return
    from pruning.model import modules
    from pruning.params import InvalidParam
    from pruning.sparsity.prune import check_model as check_pruning

    option = "base_model" if config.base_model else "model_module"
    value = getattr(config, option)
    try:
        if config.base_model:
            model = modules.load_trained(config.base_model)
        else:
            model = modules.build(config.model_source, data.image_shape,
                                  data.num_classes or UNCOUNTED_CLASSES)
        modules.check_fits(model, data.image_shape,
                           data.num_classes or model.output_shape[-1], f"model {model.name!r}")
    except modules.ModelModuleError as error:
        raise configs.option_error(option, value, str(error)) from None
    try:
        check_pruning(model, config.pruning_params, config.filter_params)
    except InvalidParam as error:
        group = "filters" if error.param == "filter_sparsity" else "pruning"
        raise config.explain(error, group) from None
