"""The Trainer's module: `run_fn` builds the user's model, trains it and exports it.

A thin adapter: reads both splits (`pruning.data`), builds the model from the model module that
travels in `custom_config` (`pruning.model.modules`: its source, run here) and trains it with
`pruning.training.baseline.make_baseline`, or, given a model already trained (`BASE_MODEL`),
loads and measures it without training; then writes the Model artifact
(`components.model_artifact`). Hyperparameters arrive in `custom_config` (from
`pipelines/pipeline.py`):

    {"model_module": {"name": "pruning.model.cnn", "source": "...", "sha256": "..."},  # or the CNN
     "model": {"keras_api": "functional", "width": 32, ...},   # the project's CNN only
     "training": {"epochs": 5, "batch_size": 256, ...},        # pruning.params.TrainingParams
     # the data's, added by the executor: the Examples' image format, the Schema's classes
     "image_format": "{...}", "num_classes": 10}
"""

from __future__ import annotations

import logging
import os
import time

from tfx.components.trainer.fn_args_utils import FnArgs

from components import examples, model_artifact, progress, properties
from components.baseline_trainer.spec import (
    BASE_MODEL_URI_KEY,
    CONFIG_KEYS,
    IMAGE_FORMAT_KEY,
    MODEL_CONFIG_KEY,
    MODULE_CONFIG_KEY,
    NUM_CLASSES_KEY,
    TRAINING_CONFIG_KEY,
)
from pruning import data
from pruning.model import modules
from pruning.params import ModelParams, TrainingParams

log = logging.getLogger(__name__)


def parse_custom_config(custom_config: dict | None) -> tuple[ModelParams | None, TrainingParams]:
    """(the CNN's ModelParams or None, TrainingParams) from the Trainer's custom_config,
    validated."""
    config = custom_config or {}
    unknown = sorted(set(config) - set(CONFIG_KEYS))
    if unknown:
        raise ValueError(f"Unknown custom_config keys {unknown}; expected {list(CONFIG_KEYS)}")
    model = config.get(MODEL_CONFIG_KEY)
    return (None if model is None else ModelParams.from_dict(model),
            TrainingParams.from_dict(config.get(TRAINING_CONFIG_KEY, {})))


def run_fn(fn_args: FnArgs) -> None:
    """TFX Trainer entry point: train on the train split (or take the imported model), evaluate
    on eval, export both formats."""
    if fn_args.train_steps or fn_args.eval_steps:
        raise ValueError(
            "train_args/eval_args num_steps are not used by this trainer: it trains for "
            "training.epochs full passes and evaluates the whole eval split"
        )
    config = fn_args.custom_config or {}
    model_params, training = parse_custom_config(config)
    image_format = (data.ImageFormat.from_json(config[IMAGE_FORMAT_KEY])
                    if IMAGE_FORMAT_KEY in config else data.MNIST)
    image_shape = image_format.shape
    num_classes = int(config.get(NUM_CLASSES_KEY, data.NUM_CLASSES))
    if fn_args.schema_path:
        examples.check_schema(os.path.dirname(fn_args.schema_path), image_format)
    model_uri = os.path.dirname(fn_args.serving_model_dir)  # <model>/Format-Serving
    imported = config.get(BASE_MODEL_URI_KEY)
    if imported:
        # Loaded and checked before a single example is read.
        model = modules.load_trained(imported)
        modules.check_fits(model, image_shape, num_classes, f"BASE_MODEL {imported}")
        eval_data = data.read_files(fn_args.eval_files, image_format=image_format)
        result = measure_imported(model, eval_data)
        model_artifact.write_model(model_uri, model, result, {
            properties.IMPORTED_FROM: imported, properties.EPOCHS: 0}, image_format=image_format)
        return
    module = (modules.ModuleSource.from_dict(config[MODULE_CONFIG_KEY])
              if MODULE_CONFIG_KEY in config else modules.read_source(modules.DEFAULT_MODULE))

    def build():
        options = {} if model_params is None else {"params": model_params}
        model = modules.build(module, image_shape, num_classes, **options)
        modules.check_fits(model, image_shape, num_classes, f"model module {module.name}")
        return model

    started = time.monotonic()
    train_images, train_labels = data.read_files(fn_args.train_files, image_format=image_format)
    eval_images, eval_labels = data.read_files(fn_args.eval_files, image_format=image_format)
    log.info("Read %d train and %d eval examples in %.1f s", len(train_images),
             len(eval_images), time.monotonic() - started)

    from pruning.training.baseline import make_baseline  # TensorFlow Model Optimization

    clock = progress.EpochClock()
    result = make_baseline(
        build, training, (train_images, train_labels), (eval_images, eval_labels),
        log_dir=fn_args.model_run_dir,
        on_epoch_end=lambda epoch, loss: log.info(
            "%s, loss %.4f, %.1f s", progress.trainer_epoch_done(epoch + 1, training.epochs),
            loss, clock.lap()))
    extra = {properties.EPOCHS: training.epochs, properties.TRAIN_SECONDS: round(result.seconds, 1),
             properties.MODEL_MODULE: module.name, properties.MODEL_MODULE_SHA256: module.sha256}
    if model_params is not None:
        extra[properties.KERAS_API] = model_params.keras_api
    model_artifact.write_model(model_uri, result.model, result.metrics, extra, module=module,
                               image_format=image_format)


def measure_imported(model, eval_data):
    """The imported model's accuracy and loss on the eval split, in its own input shape."""
    from pruning.training.metrics import evaluate

    images, labels = eval_data
    return evaluate(model, data.in_memory_dataset(data.model_inputs(images, model.input_shape),
                                                  labels, 1000))
