"""PruneTrainer: prunes the Trainer's baseline model with the Keras pruning API, fine-tuning it.

Class-based (not `@component`) because it needs the exact-resume machinery of its executor and
validates its parameters against the architecture when the pipeline is built.
"""

from __future__ import annotations

import tf_keras as keras
from tfx.dsl.components.base import base_component, executor_spec
from tfx.proto import trainer_pb2
from tfx.types import Channel, standard_artifacts

from components.prune_trainer import executor
from components.prune_trainer.spec import (
    CHECKPOINT_KEY,
    CLUSTERING_KEY,
    EVAL_ARGS_KEY,
    MODEL_KEY,
    MODEL_RUN_KEY,
    PRUNING_KEY,
    TRAIN_ARGS_KEY,
    TRAINING_KEY,
    PruneTrainerSpec,
    PruningCheckpoint,
)
from pruning import apply
from pruning.params import ClusteringParams, PruningParams, TrainingParams


class PruneTrainer(base_component.BaseComponent):
    """Outputs `model` (stripped, pruned; SavedModel + Keras file + sparsity.json),
    `model_run` (TensorBoard logs with PruningSummaries) and `checkpoint`.

    Args:
      examples, schema: the ExampleGen and SchemaGen outputs ('train' and 'eval' splits).
      base_model: the Trainer's Model; pruning starts from its trained weights.
      pruning: what to prune and how (every option of the Keras pruning API).
      training: epochs, batch size, learning rate and loop (`fit` or `custom`) of the fine-tune.
      clustering: optional sparsity-preserving weight clustering of the pruned layers after
        pruning (fewer distinct weights, so the compressed files shrink further).
      warmup_checkpoint: optional PruningCheckpoint of an earlier run (e.g. from a Resolver) to
        continue from instead of starting over.
      reference_model: optional model of the same architecture as `base_model`; when given, layer
        names, types and kernel shapes are checked against it now, when the pipeline is built,
        rather than after the baseline has trained.
    """

    SPEC_CLASS = PruneTrainerSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.Executor)

    def __init__(
        self,
        examples: Channel,
        schema: Channel,
        base_model: Channel,
        pruning: PruningParams,
        training: TrainingParams,
        clustering: ClusteringParams | None = None,
        warmup_checkpoint: Channel | None = None,
        reference_model: keras.Model | None = None,
        train_split: str = "train",
        eval_split: str = "eval",
    ):
        if not isinstance(pruning, PruningParams) or not isinstance(training, TrainingParams):
            raise TypeError("pruning must be a PruningParams and training a TrainingParams")
        clustering = clustering or ClusteringParams()
        if not isinstance(clustering, ClusteringParams):
            raise TypeError("clustering must be a ClusteringParams")
        if reference_model is not None:
            apply.select_layers(reference_model, pruning)
        super().__init__(
            spec=PruneTrainerSpec(
                examples=examples,
                schema=schema,
                base_model=base_model,
                warmup_checkpoint=warmup_checkpoint,
                **{
                    PRUNING_KEY: pruning.to_json(),
                    TRAINING_KEY: training.to_json(),
                    CLUSTERING_KEY: clustering.to_json(),
                    TRAIN_ARGS_KEY: trainer_pb2.TrainArgs(splits=[train_split]),
                    EVAL_ARGS_KEY: trainer_pb2.EvalArgs(splits=[eval_split]),
                    MODEL_KEY: Channel(type=standard_artifacts.Model),
                    MODEL_RUN_KEY: Channel(type=standard_artifacts.ModelRun),
                    CHECKPOINT_KEY: Channel(type=PruningCheckpoint),
                },
            )
        )
