"""`create_pipeline()`: the one definition of the pipeline that every runner imports.

It builds component objects and reads nothing from disk, the environment or the network (the
local runners' SQLite store is the one exception: TFX's helper creates its directory). Every node
gets its id from `pipelines.nodes`, where the readers of ML Metadata look them up.
"""

from __future__ import annotations

import dataclasses

# The modules behind `tfx.v1`, imported directly: `tfx.v1` also imports its Google Cloud
# extensions (Vertex AI client libraries), seconds of every run's start-up, cached reruns too.
from tfx.components import Pusher
from tfx.dsl.components.common.importer import Importer
from tfx.dsl.components.common.resolver import Resolver
from tfx.orchestration import metadata as tfx_metadata
from tfx.orchestration.pipeline import Pipeline
from tfx.proto import trainer_pb2
from tfx.types import Channel, standard_artifacts

from components import baseline_trainer
from components.compress_exporter import CompressExporter
from components.import_example_gen import ImportExampleGen
from components.prune_trainer import PruneTrainer, PruningCheckpoint
from components.prune_trainer.resolver import LatestCheckpointIfAny
from components.standard import Evaluator, ExampleValidator, SchemaGen, StatisticsGen
from components.tfds_example_gen import TfdsExampleGen
from pipelines import metadata, nodes, stores
from pipelines.configs import PipelineConfig
from pipelines.gate import make_eval_config
from pipelines.storage import Storage


def create_components(config: PipelineConfig, storage: Storage | None = None) -> list:
    """The pipeline's components in DAG order (tests build partial pipelines from these).

    The options were checked when `config` was built, the pruning options against the model's
    layers too (pipelines/configs.py).
    """
    storage = storage or Storage.local(config)
    example_gen = make_example_gen(config, storage)
    examples = example_gen.outputs["examples"]
    # TFX's StatisticsGen, SchemaGen, ExampleValidator and Evaluator with executors that name a
    # corrupt Examples file, add the model's requirements to the inferred Schema and check every
    # image's size (components/standard.py).
    statistics_gen = StatisticsGen(examples=examples).with_id(nodes.STATISTICS_GEN)
    # infer_feature_shape gives the fixed-length `image` list the shape [784] in the Schema, the
    # shape the trainers check it has.
    schema_gen = SchemaGen(
        statistics=statistics_gen.outputs["statistics"], infer_feature_shape=True
    ).with_id(nodes.SCHEMA_GEN)
    example_validator = ExampleValidator(
        statistics=statistics_gen.outputs["statistics"], schema=schema_gen.outputs["schema"]
    ).with_id(nodes.EXAMPLE_VALIDATOR)
    components = [example_gen, statistics_gen, schema_gen, example_validator]
    imported = None
    if config.base_model:
        # The user's trained model, registered in ML Metadata with its own URI: the lineage of
        # every model after it leads back to that file.
        importer = Importer(source_uri=config.base_model, artifact_type=standard_artifacts.Model
                            ).with_id(nodes.BASE_MODEL_IMPORTER)
        components.append(importer)
        imported = importer.outputs[nodes.IMPORTED_MODEL.key]
    # Trains only after the validation, and by default only when it found no anomalies.
    trainer = baseline_trainer.BaselineTrainer(
        run_fn=baseline_trainer.RUN_FN,
        examples=examples,
        schema=schema_gen.outputs["schema"],
        anomalies=example_validator.outputs["anomalies"],
        stop_on_anomalies=config.stop_on_anomalies,
        train_args=trainer_pb2.TrainArgs(splits=["train"]),
        eval_args=trainer_pb2.EvalArgs(splits=["eval"]),
        custom_config=trainer_config(config),
        base_model=imported,
    ).with_id(nodes.TRAINER)
    baseline_model = trainer.outputs[nodes.BASELINE_MODEL.key]
    components.append(trainer)
    warmup_checkpoint = None
    if config.prune_warm_start:
        latest_checkpoint = Resolver(
            strategy_class=LatestCheckpointIfAny,
            checkpoint=Channel(type=PruningCheckpoint),
        ).with_id(nodes.WARM_START_RESOLVER)
        components.append(latest_checkpoint)
        warmup_checkpoint = latest_checkpoint.outputs["checkpoint"]
    prune_trainer = PruneTrainer(
        examples=examples,
        schema=schema_gen.outputs["schema"],
        base_model=baseline_model,
        filters=config.filter_params,
        pruning=config.pruning_params,
        training=config.prune_training_params,
        clustering=config.clustering_params,
        warmup_checkpoint=warmup_checkpoint,
    ).with_id(nodes.PRUNE_TRAINER)
    pruned_model = prune_trainer.outputs[nodes.PRUNED_MODEL.key]
    evaluator = Evaluator(
        examples=examples,
        model=pruned_model,
        baseline_model=baseline_model,
        eval_config=make_eval_config(config.gate_params, config.label_key),
    ).with_id(nodes.EVALUATOR)
    blessing = evaluator.outputs[nodes.BLESSING.key]
    compress_exporter = CompressExporter(
        baseline_model=baseline_model,
        model=pruned_model,
        examples=examples,
        blessing=blessing,
        compression=config.compression_params,
        training=config.prune_training_params,  # PQAT's batch size and seed
    ).with_id(nodes.COMPRESS_EXPORTER)
    # Pushes compressed's Format-Serving/ (pruned SavedModel + pruned_int8.tflite), only when
    # the Evaluator blessed the pruned model.
    pusher = Pusher(
        model=compress_exporter.outputs[nodes.COMPRESSED.key],
        model_blessing=blessing,
        push_destination=storage.push_destination,
    ).with_id(nodes.PUSHER)
    components += [prune_trainer, evaluator, compress_exporter, pusher]
    return components


def make_example_gen(config: PipelineConfig, storage: Storage):
    """The user's TFRecords of EXAMPLES_DIR through TFX's ImportExampleGen, or the TFDS dataset."""
    if config.examples_dir:
        return ImportExampleGen(
            examples_dir=config.examples_dir, image_feature=config.image_feature,
            label_feature=config.label_feature, image_shape=config.declared_image_shape,
        ).with_id(nodes.IMPORT_EXAMPLE_GEN)
    return TfdsExampleGen(
        dataset=config.dataset,
        data_dir=storage.tfds_data_dir,
        manual_dir=storage.tfds_manual_dir,
        splits=config.splits,
        hash_buckets=config.hash_bucket_map,
        example_limit=config.example_limit,
        num_shards=config.num_shards,
    ).with_id(nodes.EXAMPLE_GEN)


def trainer_config(config: PipelineConfig) -> dict:
    """The Trainer's custom_config (components/baseline_trainer/module.py): the model module's
    source, which travels with the pipeline as TFX's module_file does (none with BASE_MODEL),
    the project's CNN's shape and the training options. The data's image format and classes
    its executor adds when it runs."""
    values = {baseline_trainer.TRAINING_CONFIG_KEY: dataclasses.asdict(config.training_params)}
    if not config.base_model:
        values[baseline_trainer.MODULE_CONFIG_KEY] = config.model_source.to_dict()
    if config.project_cnn:
        values[baseline_trainer.MODEL_CONFIG_KEY] = dataclasses.asdict(config.model_params)
    return values


def create_pipeline(
    config: PipelineConfig, local_metadata: bool = True, storage: Storage | None = None
) -> Pipeline:
    """The pipeline with Beam args from config and, for local runners, ML Metadata in the
    configured store (a SQLite file under the pipeline root by default, or a MySQL server).
    Kubeflow passes `local_metadata=False` (the cluster's metadata service records the runs)
    and its `storage`."""
    storage = storage or Storage.local(config)
    return Pipeline(
        pipeline_name=config.pipeline_name,
        pipeline_root=storage.pipeline_root,
        components=create_components(config, storage),
        enable_cache=config.enable_cache,
        metadata_connection_config=(
            _metadata_connection(config.metadata_store) if local_metadata else None
        ),
        beam_pipeline_args=config.beam_pipeline_args,
    )


def _metadata_connection(store: stores.Store):
    if isinstance(store, stores.SqliteStore):
        return tfx_metadata.sqlite_metadata_connection_config(store.path)  # makes its directory
    return metadata.mysql_connection_config(store)
