"""The Trainer's module: `run_fn` builds, trains and exports the baseline CNN.

A thin adapter: the model, training and export are `pruning.models`, `pruning.training` and
`pruning.export`. Hyperparameters arrive in `custom_config` (from `pipelines/configs.py`):

    {"model": {"architecture": "functional", "width": 32, ...},   # pruning.params.ModelParams
     "training": {"epochs": 5, "batch_size": 256, ...}}           # pruning.params.TrainingParams
"""

from __future__ import annotations

import logging
import os
import time

from tfx.components.trainer.fn_args_utils import FnArgs

from components import model_io
from pruning import models
from pruning.evaluate import evaluate
from pruning.params import ModelParams, TrainingParams
from pruning.training import train_baseline

RUN_FN = "components.baseline_trainer.module.run_fn"
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
    started = time.monotonic()
    train_images, train_labels = model_io.load_split(fn_args, fn_args.train_files)
    eval_images, eval_labels = model_io.load_split(fn_args, fn_args.eval_files)
    log.info("Read %d train and %d eval examples in %.1f s", len(train_images),
             len(eval_images), time.monotonic() - started)

    model = models.build_model(model_params)
    started = time.monotonic()
    train_baseline(model, train_images, train_labels, training, log_dir=fn_args.model_run_dir)
    train_seconds = time.monotonic() - started
    metrics = evaluate(model, model_io.eval_dataset(eval_images, eval_labels))
    log.info("Baseline: test accuracy %.4f, loss %.4f after %d epochs (%.0f s)",
             metrics.accuracy, metrics.loss, training.epochs, train_seconds)
    model_uri = os.path.dirname(fn_args.serving_model_dir)  # <model>/Format-Serving
    model_io.write_model(model_uri, model, metrics, {
        "epochs": training.epochs,
        "train_seconds": round(train_seconds, 1),
        "architecture": model_params.architecture,
    })
