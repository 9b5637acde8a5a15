"""PruneTrainer's executor: a thin adapter over `pruning.fine_tune.prune_and_fine_tune`.

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
import time
from typing import Any

import tensorflow as tf
from tfx import types
from tfx.components.trainer import fn_args_utils
from tfx.dsl.components.base import base_executor
from tfx.types import artifact_utils

from components import model_io
from components.prune_trainer import spec
from pruning import checkpoint, clustering
from pruning.evaluate import evaluate
from pruning.fine_tune import prune_and_fine_tune
from pruning.params import ClusteringParams, PruningParams, TrainingParams

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
    path = checkpoint.latest_in(uri)
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
        self._log_startup(input_dict, output_dict, exec_properties)
        pruning = PruningParams.from_json(exec_properties[spec.PRUNING_KEY])
        training = TrainingParams.from_json(exec_properties[spec.TRAINING_KEY])
        cluster_params = ClusteringParams.from_json(exec_properties[spec.CLUSTERING_KEY])
        fn_args = fn_args_utils.get_common_fn_args(input_dict, exec_properties)
        model = artifact_utils.get_single_instance(output_dict[spec.MODEL_KEY])
        model_run_uri = artifact_utils.get_single_uri(output_dict[spec.MODEL_RUN_KEY])
        checkpoint_artifact = artifact_utils.get_single_instance(output_dict[spec.CHECKPOINT_KEY])

        base_model = model_io.load_model(
            artifact_utils.get_single_uri(input_dict[spec.BASE_MODEL_KEY])
        )
        warm_start = warm_start_path(input_dict)
        resume_dir = resume_directory(model.uri, input_dict, exec_properties)
        train_images, train_labels = model_io.load_split(fn_args, fn_args.train_files)
        eval_images, eval_labels = model_io.load_split(fn_args, fn_args.eval_files)

        started = time.monotonic()
        result = prune_and_fine_tune(
            base_model,
            pruning,
            training,
            train_images,
            train_labels,
            checkpoint_dir=resume_dir,
            warm_start=warm_start,
            log_dir=model_run_uri,
            on_epoch_end=lambda epoch, loss: log.info(
                "PruneTrainer: epoch %d/%d done, loss %.4f, checkpoint in %s",
                epoch + 1, training.epochs, loss, resume_dir,
            ),
        )
        final_model, report = result.model, result.sparsity
        sparsity_record = report.to_dict()
        if cluster_params.enabled:
            log.info("PruneTrainer: clustering %s into %d values each, %d epoch(s)",
                     ",".join(result.pruned_layers), cluster_params.clusters,
                     cluster_params.epochs)
            final_model, report, sparsity_record = clustering.cluster_pruned_model(
                result.model, cluster_params, result.pruned_layers, train_images, train_labels,
                training)
        train_seconds = time.monotonic() - started
        metrics = evaluate(final_model, model_io.eval_dataset(eval_images, eval_labels))
        log.info("Pruned: sparsity %.4f, test accuracy %.4f, loss %.4f",
                 report.overall, metrics.accuracy, metrics.loss)

        model_io.write_json(os.path.join(model.uri, model_io.SPARSITY_FILE), sparsity_record)
        summary = model_io.write_model(model.uri, final_model, metrics, {
            "sparsity": report.overall,
            "clusters": cluster_params.clusters,
            "pruned_layers": ",".join(result.pruned_layers),
            "epochs": training.epochs,
            "resumed_from_epoch": result.resumed_from_epoch,
            "warm_started": int(warm_start is not None),
            "train_seconds": round(train_seconds, 1),
        })
        model_io.record_properties(model, summary)

        saved = result.saver.export(checkpoint_artifact.uri)
        model_io.record_properties(checkpoint_artifact, {
            "epochs_done": result.epochs_done,
            "optimizer_iterations": int(result.optimizer.iterations.numpy()),
            "checkpoint_path": os.path.basename(saved),
        })
        tf.io.gfile.rmtree(resume_dir)
