"""PruneTrainer's executor: maps artifacts to the arguments of `pruning.sparsity.prune.prune_model`
and its result to the output artifacts.

Resuming: checkpoints go to a directory named after a fingerprint of this execution's inputs and
parameters, under the component's own output directory (`<pipeline_root>/<node>/.resume/<hash>`).
A retry of the same execution (LocalDagRunner rerun after a crash or SIGKILL, a Kubeflow pod
retry) computes the same fingerprint and resumes from the last finished epoch. TFX's
`stateful_working_dir` is not used because a synchronous pipeline's rerun is a new execution with
a new working directory. The directory is deleted once the outputs are written.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from typing import Any

import tensorflow as tf
from tfx import types
from tfx.dsl.components.base import base_executor
from tfx.types import artifact_utils

from components import examples, model_artifact, progress, properties
from components.prune_trainer import spec
from pruning.params import ClusteringParams, FilterParams, PruningParams, TrainingParams

log = logging.getLogger(__name__)
RESUME_DIR = ".resume"


def resume_directory(model_uri: str, input_dict: dict, exec_properties: dict) -> str:
    """Where this execution's per-epoch checkpoints live; the same for every retry of it."""
    fingerprint = json.dumps(
        {
            "inputs": {
                key: sorted(a.uri for a in artifacts) for key, artifacts in input_dict.items()
            },
            "parameters": {key: str(value) for key, value in exec_properties.items()},
        },
        sort_keys=True,
    )
    digest = hashlib.sha256(fingerprint.encode()).hexdigest()[:16]
    node_dir = os.path.dirname(os.path.dirname(model_uri))  # <root>/<node>/model/<execution>
    return os.path.join(node_dir, RESUME_DIR, digest)


def warm_start_path(input_dict: dict) -> str | None:
    artifacts = input_dict.get(spec.WARMUP_CHECKPOINT_KEY) or []
    if not artifacts:
        return None
    uri = artifact_utils.get_single_uri(artifacts)
    path = tf.train.latest_checkpoint(uri)
    if path is None:
        raise FileNotFoundError(f"warmup_checkpoint artifact {uri} holds no checkpoint")
    return path


class Executor(base_executor.BaseExecutor):
    def Do(
        self,
        input_dict: dict[str, list[types.Artifact]],
        output_dict: dict[str, list[types.Artifact]],
        exec_properties: dict[str, Any],
    ) -> None:
        # The library (TensorFlow Model Optimization: seconds of imports) loads when the component
        # runs, not each time a pipeline that holds this component is defined.
        from pruning import data
        from pruning.sparsity.prune import prune_model

        self._log_startup(input_dict, output_dict, exec_properties)
        filters = FilterParams.from_json(exec_properties[spec.FILTERS_KEY])
        pruning = PruningParams.from_json(exec_properties[spec.PRUNING_KEY])
        training = TrainingParams.from_json(exec_properties[spec.TRAINING_KEY])
        clustering = ClusteringParams.from_json(exec_properties[spec.CLUSTERING_KEY])
        examples_artifact = artifact_utils.get_single_instance(input_dict[spec.EXAMPLES_KEY])
        image_format = examples.format_of(examples_artifact)
        examples.check_schema(artifact_utils.get_single_uri(input_dict[spec.SCHEMA_KEY]),
                              image_format)
        train = data.read_split(examples_artifact.uri, exec_properties[spec.TRAIN_SPLIT_KEY],
                                image_format=image_format)
        eval_data = data.read_split(examples_artifact.uri, exec_properties[spec.EVAL_SPLIT_KEY],
                                    image_format=image_format)
        base_uri = artifact_utils.get_single_uri(input_dict[spec.BASE_MODEL_KEY])
        base_model = model_artifact.load_model(base_uri)
        model = artifact_utils.get_single_instance(output_dict[spec.MODEL_KEY])
        checkpoint_artifact = artifact_utils.get_single_instance(output_dict[spec.CHECKPOINT_KEY])
        warm_start = warm_start_path(input_dict)
        resume_dir = resume_directory(model.uri, input_dict, exec_properties)

        clock = progress.EpochClock()
        result = prune_model(
            base_model, pruning, training, clustering, train, eval_data,
            checkpoint_dir=resume_dir,
            filter_params=filters,
            warm_start=warm_start,
            log_dir=artifact_utils.get_single_uri(output_dict[spec.MODEL_RUN_KEY]),
            on_epoch_end=lambda phase, epoch, epochs, loss: log.info(
                "%s, loss %.4f, %.1f s, checkpoint in %s",
                progress.epoch_done(phase, epoch, epochs), loss, clock.lap(), resume_dir,
            ),
        )
        log.info("Pruned: sparsity %.4f, test accuracy %.4f, loss %.4f",
                 result.sparsity.overall, result.metrics.accuracy, result.metrics.loss)

        model_artifact.write_json(os.path.join(model.uri, model_artifact.SPARSITY_FILE),
                                  result.sparsity_record())
        pruning_run = result.pruning
        properties.record(model, model_artifact.write_model(model.uri, result.model,
                                                            result.metrics, {
            properties.SPARSITY: result.sparsity.overall,
            properties.CLUSTERS: clustering.clusters,
            properties.PRUNED_LAYERS: ",".join(pruning_run.pruned_layers),
            properties.KEPT_CHANNELS: (",".join(f"{name}:{width}" for name, width
                                                in result.filters.kept.items())
                                       if result.filters else ""),
            properties.EPOCHS: training.epochs,
            properties.RESUMED_FROM_EPOCH: pruning_run.resumed_from_epoch,
            properties.WARM_STARTED: int(warm_start is not None),
            properties.TRAIN_SECONDS: round(result.seconds, 1),
        }, module=model_artifact.module_of(base_uri), image_format=image_format))
        saved = pruning_run.saver.export(checkpoint_artifact.uri)
        properties.record(checkpoint_artifact, {
            properties.EPOCHS_DONE: pruning_run.epochs,
            properties.OPTIMIZER_ITERATIONS: int(pruning_run.optimizer.iterations.numpy()),
            properties.CHECKPOINT_PATH: os.path.basename(saved),
        })
        tf.io.gfile.rmtree(resume_dir)
