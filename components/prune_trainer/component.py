"""PruneTrainer: prunes the Trainer's baseline model, fine-tuning it: whole filters first (the model
is rebuilt narrower), then single weights with the Keras pruning API, then clustering.

Class-based (not `@component`) because it needs the exact-resume machinery of its executor and
checks its parameters against the model's layers (`pruning.architecture`) when the pipeline is
built.
"""

from __future__ import annotations

from tfx.dsl.components.base import base_component, executor_spec
from tfx.types import Channel, standard_artifacts

from components.prune_trainer import executor
from components.prune_trainer.spec import (
    CHECKPOINT_KEY,
    CLUSTERING_KEY,
    EVAL_SPLIT_KEY,
    FILTERS_KEY,
    MODEL_KEY,
    MODEL_RUN_KEY,
    PRUNING_KEY,
    TRAIN_SPLIT_KEY,
    TRAINING_KEY,
    PruneTrainerSpec,
    PruningCheckpoint,
)
from pruning import architecture
from pruning.params import (
    ClusteringParams,
    FilterParams,
    ModelParams,
    PruningParams,
    TrainingParams,
)


class PruneTrainer(base_component.BaseComponent):
    """Outputs `model` (narrowed, stripped, pruned; SavedModel + Keras file + sparsity.json),
    `model_run` (TensorBoard logs with PruningSummaries) and `checkpoint`.

    Args:
      examples, schema: the ExampleGen and SchemaGen outputs (`train_split` and `eval_split`).
      base_model: the Trainer's Model; pruning starts from its trained weights.
      filters: structured pruning first: the fraction of filters or units each layer loses,
        the schedule and the distillation of every later fine-tuning; None (or no layers) = off.
      pruning: what to prune and how (every option of the Keras pruning API), in the model
        `filters` leaves.
      training: epochs, batch size and learning rate of the fine-tuning.
      clustering: sparsity-preserving weight clustering of the pruned layers after pruning
        (fewer distinct weights, so the compressed files shrink further); clusters 0 = off.
      warmup_checkpoint: optional PruningCheckpoint of an earlier run (e.g. from a Resolver) to
        continue from instead of starting over.
      model: optional shape of `base_model` when it is the project's CNN; when given, `filters`'
        layers and `pruning`'s layer names, types and kernel shapes are checked against it now
        (`pruning.architecture`, no TensorFlow), rather than after the baseline has trained.
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
        model: ModelParams | None = None,
        train_split: str = "train",
        eval_split: str = "eval",
        filters: FilterParams | None = None,
    ):
        clustering = clustering or ClusteringParams(clusters=0)
        filters = filters or FilterParams()
        for value, kind in ((pruning, PruningParams), (training, TrainingParams),
                            (clustering, ClusteringParams), (filters, FilterParams)):
            if not isinstance(value, kind):
                raise TypeError(f"Expected a {kind.__name__}, got {value!r}")
        if model is not None:
            name = architecture.model_name(model)
            layers = architecture.prunable_layers(model)
            if filters.enabled:
                layers = architecture.narrowed_layers(layers, filters.filter_sparsity, name)
            architecture.select_layers(layers, pruning, name)
        super().__init__(
            spec=PruneTrainerSpec(
                examples=examples,
                schema=schema,
                base_model=base_model,
                warmup_checkpoint=warmup_checkpoint,
                **{
                    FILTERS_KEY: filters.to_json(),
                    PRUNING_KEY: pruning.to_json(),
                    TRAINING_KEY: training.to_json(),
                    CLUSTERING_KEY: clustering.to_json(),
                    TRAIN_SPLIT_KEY: train_split,
                    EVAL_SPLIT_KEY: eval_split,
                    MODEL_KEY: Channel(type=standard_artifacts.Model),
                    MODEL_RUN_KEY: Channel(type=standard_artifacts.ModelRun),
                    CHECKPOINT_KEY: Channel(type=PruningCheckpoint),
                },
            )
        )
