"""`create_pipeline()`: the one definition of the pipeline that every runner imports.

It builds component objects and reads nothing from disk, the environment or the network (the
local runners' SQLite store is the one exception: TFX's helper creates its directory).
"""

from __future__ import annotations

import dataclasses

# The modules behind `tfx.v1`, imported directly: `tfx.v1` also imports its Google Cloud
# extensions (Vertex AI client libraries), about 7 s of every run's start-up, cached reruns too.
from tfx.components import (
    Evaluator,
    ExampleValidator,
    Pusher,
    SchemaGen,
    StatisticsGen,
    Trainer,
)
from tfx.dsl.components.base import executor_spec
from tfx.dsl.components.common.resolver import Resolver
from tfx.orchestration import metadata
from tfx.orchestration.pipeline import Pipeline
from tfx.proto import trainer_pb2
from tfx.types import Channel

from components import baseline_trainer
from components.compress_exporter import CompressExporter
from components.prune_trainer import PruneTrainer, PruningCheckpoint
from components.prune_trainer.resolver import LatestCheckpointIfAny
from components.tfds_example_gen import TfdsExampleGen
from pipelines.configs import PipelineConfig
from pipelines.evaluation import make_eval_config
from pipelines.storage import Storage
from pruning import models
from pruning.params import InvalidParam


def create_components(config: PipelineConfig, storage: Storage | None = None) -> list:
    """The pipeline's components in DAG order (tests build partial pipelines from these)."""
    storage = storage or Storage.local(config)
    example_gen = TfdsExampleGen(
        dataset=config.dataset,
        data_dir=storage.tfds_data_dir,
        manual_dir=storage.tfds_manual_dir,
        splits=config.splits,
        hash_buckets=config.hash_bucket_map,
        example_limit=config.example_limit,
        num_shards=config.num_shards,
    )
    statistics_gen = StatisticsGen(examples=example_gen.outputs["examples"])
    # infer_feature_shape turns the fixed-length `image` list into a dense [784] feature for the
    # Trainer's data accessor instead of a sparse one.
    schema_gen = SchemaGen(
        statistics=statistics_gen.outputs["statistics"], infer_feature_shape=True
    )
    example_validator = ExampleValidator(
        statistics=statistics_gen.outputs["statistics"], schema=schema_gen.outputs["schema"]
    )
    trainer = Trainer(
        run_fn=baseline_trainer.RUN_FN,
        examples=example_gen.outputs["examples"],
        schema=schema_gen.outputs["schema"],
        train_args=trainer_pb2.TrainArgs(splits=["train"]),
        eval_args=trainer_pb2.EvalArgs(splits=["eval"]),
        custom_config={
            "model": dataclasses.asdict(config.model_params),
            "training": dataclasses.asdict(config.training_params),
        },
        custom_executor_spec=executor_spec.ExecutorClassSpec(baseline_trainer.Executor),
    )
    components = [example_gen, statistics_gen, schema_gen, example_validator, trainer]
    warmup_checkpoint = None
    if config.prune_warm_start:
        latest_checkpoint = Resolver(
            strategy_class=LatestCheckpointIfAny,
            checkpoint=Channel(type=PruningCheckpoint),
        ).with_id("latest_pruning_checkpoint")
        components.append(latest_checkpoint)
        warmup_checkpoint = latest_checkpoint.outputs["checkpoint"]
    try:
        prune_trainer = PruneTrainer(
            examples=example_gen.outputs["examples"],
            schema=schema_gen.outputs["schema"],
            base_model=trainer.outputs["model"],
            pruning=config.pruning_params,
            training=config.prune_training_params,
            clustering=config.clustering_params,
            warmup_checkpoint=warmup_checkpoint,
            # Layer names, types and shapes are checked now, not after the baseline has trained.
            reference_model=models.build_model(config.model_params),
        )
    except InvalidParam as error:  # a layer the model lacks: name the option that asked for it
        raise config.explain(error) from None
    evaluator = Evaluator(
        examples=example_gen.outputs["examples"],
        model=prune_trainer.outputs["model"],
        baseline_model=trainer.outputs["model"],
        eval_config=make_eval_config(config.resolved_eval_min_accuracy,
                                     config.resolved_eval_max_accuracy_drop),
    )
    compress_exporter = CompressExporter(
        baseline_model=trainer.outputs["model"],
        model=prune_trainer.outputs["model"],
        examples=example_gen.outputs["examples"],
        blessing=evaluator.outputs["blessing"],
        representative_examples=config.representative_examples,
        latency_runs=config.latency_runs,
        pqat_epochs=config.pqat_epochs,
        pqat_learning_rate=config.pqat_learning_rate,
    )
    # Pushes compressed's Format-Serving/ (pruned SavedModel + pruned_int8.tflite), only when
    # the Evaluator blessed the pruned model.
    pusher = Pusher(
        model=compress_exporter.outputs["compressed"],
        model_blessing=evaluator.outputs["blessing"],
        push_destination=storage.push_destination,
    )
    components += [prune_trainer, evaluator, compress_exporter, pusher]
    return components


def create_pipeline(
    config: PipelineConfig, local_metadata: bool = True, storage: Storage | None = None
) -> Pipeline:
    """The pipeline with Beam args from config and, for local runners, SQLite ML Metadata under
    the pipeline root (TFX's helper creates that file's directory). Kubeflow passes
    `local_metadata=False` (the cluster's metadata service records the runs) and its `storage`."""
    storage = storage or Storage.local(config)
    return Pipeline(
        pipeline_name=config.pipeline_name,
        pipeline_root=storage.pipeline_root,
        components=create_components(config, storage),
        enable_cache=config.enable_cache,
        metadata_connection_config=(
            metadata.sqlite_metadata_connection_config(config.resolved_metadata_path)
            if local_metadata else None
        ),
        beam_pipeline_args=config.beam_pipeline_args,
    )
