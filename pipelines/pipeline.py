"""`create_pipeline()`: the one definition of the pipeline that every runner imports.

Pure: it builds component objects and reads nothing from disk, the environment or the network.
"""

from __future__ import annotations

from tfx import v1 as tfx

from components.tfds_example_gen import TfdsExampleGen
from pipelines.configs import PipelineConfig


def create_components(config: PipelineConfig) -> list:
    """The pipeline's components in DAG order (tests build partial pipelines from these)."""
    example_gen = TfdsExampleGen(
        dataset=config.dataset,
        data_dir=config.tfds_data_dir,
        manual_dir=config.resolved_manual_dir,
        splits=config.splits,
        hash_buckets=config.hash_bucket_map,
        example_limit=config.example_limit,
        num_shards=config.num_shards,
    )
    statistics_gen = tfx.components.StatisticsGen(examples=example_gen.outputs["examples"])
    # infer_feature_shape turns the fixed-length `image` list into a dense [784] feature for the
    # Trainer's data accessor instead of a sparse one.
    schema_gen = tfx.components.SchemaGen(
        statistics=statistics_gen.outputs["statistics"], infer_feature_shape=True
    )
    example_validator = tfx.components.ExampleValidator(
        statistics=statistics_gen.outputs["statistics"], schema=schema_gen.outputs["schema"]
    )
    return [example_gen, statistics_gen, schema_gen, example_validator]


def create_pipeline(config: PipelineConfig) -> tfx.dsl.Pipeline:
    """The pipeline with SQLite ML Metadata under the pipeline root and Beam args from config."""
    return tfx.dsl.Pipeline(
        pipeline_name=config.pipeline_name,
        pipeline_root=config.resolved_pipeline_root,
        components=create_components(config),
        enable_cache=config.enable_cache,
        metadata_connection_config=tfx.orchestration.metadata.sqlite_metadata_connection_config(
            config.resolved_metadata_path
        ),
        beam_pipeline_args=config.beam_pipeline_args,
    )
