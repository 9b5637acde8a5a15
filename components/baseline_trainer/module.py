"""The Trainer's module: `run_fn` builds, trains and exports the baseline CNN.

A thin adapter: reads both splits (`pruning.data`), runs `pruning.training.baseline.make_baseline`
and writes the Model artifact (`components.model_artifact`). Hyperparameters arrive in
`custom_config` (from `pipelines/configs.py`):

    {"model": {"keras_api": "functional", "width": 32, ...},   # pruning.params.ModelParams
     "training": {"epochs": 5, "batch_size": 256, ...}}           # pruning.params.TrainingParams
"""

from __future__ import annotations

import logging
import os
import time

from tfx.components.trainer.fn_args_utils import FnArgs

from components import examples, model_artifact, progress, properties
from pruning import data
from pruning.params import ModelParams, TrainingParams
from pruning.training.baseline import make_baseline

MODEL_CONFIG_KEY = "model"
TRAINING_CONFIG_KEY = "training"

log = logging.getLogger(__name__)


def parse_custom_config(custom_config: dict | None) -> tuple[ModelParams, TrainingParams]:
    """(ModelParams, TrainingParams) from the Trainer's custom_config, validated."""
    config = custom_config or {}
    unknown = sorted(set(config) - {MODEL_CONFIG_KEY, TRAINING_CONFIG_KEY})
    if unknown:
        raise ValueError(
            f"Unknown custom_config keys {unknown}; expected {MODEL_CONFIG_KEY!r} and "
            f"{TRAINING_CONFIG_KEY!r}"
        )
    return (ModelParams.from_dict(config.get(MODEL_CONFIG_KEY, {})),
            TrainingParams.from_dict(config.get(TRAINING_CONFIG_KEY, {})))


def run_fn(fn_args: FnArgs) -> None:
    """TFX Trainer entry point: train on the train split, evaluate on eval, export both formats."""
    if fn_args.train_steps or fn_args.eval_steps:
        raise ValueError(
            "train_args/eval_args num_steps are not used by this trainer: it trains for "
            "training.epochs full passes and evaluates the whole eval split"
        )
    model_params, training = parse_custom_config(fn_args.custom_config)
    if fn_args.schema_path:
        examples.check_schema(os.path.dirname(fn_args.schema_path))
    started = time.monotonic()
    train_images, train_labels = data.read_files(fn_args.train_files)
    eval_images, eval_labels = data.read_files(fn_args.eval_files)
    log.info("Read %d train and %d eval examples in %.1f s", len(train_images),
             len(eval_images), time.monotonic() - started)

    clock = progress.EpochClock()
    result = make_baseline(
        model_params, training, (train_images, train_labels), (eval_images, eval_labels),
        log_dir=fn_args.model_run_dir,
        on_epoch_end=lambda epoch, loss: log.info(
            "%s, loss %.4f, %.1f s", progress.trainer_epoch_done(epoch + 1, training.epochs),
            loss, clock.lap()))
    model_uri = os.path.dirname(fn_args.serving_model_dir)  # <model>/Format-Serving
    model_artifact.write_model(model_uri, result.model, result.metrics, {
        properties.EPOCHS: training.epochs,
        properties.TRAIN_SECONDS: round(result.seconds, 1),
        properties.KERAS_API: model_params.keras_api,
    })
