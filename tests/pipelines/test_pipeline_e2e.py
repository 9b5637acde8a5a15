"""The whole pipeline under LocalDagRunner and BeamDagRunner on TFDS mock data, checked in MLMD."""

from __future__ import annotations

import json

import pytest
import tensorflow_datasets as tfds
from tfx import v1 as tfx
from tfx.orchestration.beam.beam_dag_runner import BeamDagRunner
from tfx.utils import io_utils

from pipelines import configs, outputs
from pipelines.pipeline import create_pipeline

NUM_MOCK_EXAMPLES = 16
NODES = ["TfdsExampleGen", "StatisticsGen", "SchemaGen", "ExampleValidator"]
OUTPUT_TYPES = {
    "TfdsExampleGen": "Examples",
    "StatisticsGen": "ExampleStatistics",
    "SchemaGen": "Schema",
    "ExampleValidator": "ExampleAnomalies",
}

pytestmark = pytest.mark.e2e


def _config(tmp_path, manual_dir, **overrides) -> configs.PipelineConfig:
    environ = {
        "PIPELINE_NAME": "e2e",
        "PIPELINE_ROOT": str(tmp_path / "root"),
        "TFDS_DATA_DIR": str(tmp_path / "tfds"),
        "TFDS_MANUAL_DIR": manual_dir,
        "BEAM_RUNNING_MODE": "in_memory",  # mock_data patches this process only
        **overrides,
    }
    return configs.load_config([], environ=environ)


def _states(config) -> dict[str, str]:
    rows = outputs.newest_outputs(config.resolved_metadata_path, config.pipeline_name)
    return {row.node_id: row.state for row in rows}


def _artifacts(config) -> dict[str, outputs.NodeOutput]:
    rows = outputs.newest_outputs(config.resolved_metadata_path, config.pipeline_name)
    return {row.node_id: row for row in rows}


def test_local_runner_runs_every_component_then_serves_the_rerun_from_cache(
    tmp_path, placeholder_manual_dir
):
    config = _config(tmp_path, placeholder_manual_dir)
    with tfds.testing.mock_data(num_examples=NUM_MOCK_EXAMPLES):
        tfx.orchestration.LocalDagRunner().run(create_pipeline(config))

    assert _states(config) == dict.fromkeys(NODES, "COMPLETE")
    artifacts = _artifacts(config)
    assert {n: a.artifact_type for n, a in artifacts.items()} == OUTPUT_TYPES

    store = outputs.open_store(config.resolved_metadata_path)
    for artifact in store.get_artifacts():
        if "split_names" in artifact.properties:
            assert json.loads(artifact.properties["split_names"].string_value) == ["train", "eval"]
    [examples] = store.get_artifacts_by_type("Examples")
    assert examples.custom_properties["num_examples_train"].int_value == NUM_MOCK_EXAMPLES
    assert examples.state == examples.LIVE

    from tensorflow_metadata.proto.v0 import schema_pb2

    schema = io_utils.parse_pbtxt_file(
        f"{artifacts['SchemaGen'].uri}/schema.pbtxt", schema_pb2.Schema()
    )
    shapes = {f.name: [d.size for d in f.shape.dim] for f in schema.feature}
    assert shapes == {"image": [784], "label": [1]}
    summary = outputs.format_summary(config.resolved_metadata_path, config.pipeline_name)
    assert config.resolved_metadata_path in summary and artifacts["SchemaGen"].uri in summary

    with tfds.testing.mock_data(num_examples=NUM_MOCK_EXAMPLES):
        tfx.orchestration.LocalDagRunner().run(create_pipeline(config))

    assert _states(config) == dict.fromkeys(NODES, "CACHED")
    assert {n: a.uri for n, a in _artifacts(config).items()} == {
        n: a.uri for n, a in artifacts.items()
    }
    assert len(store.get_artifacts_by_type("Examples")) == 1


def test_failed_example_gen_publishes_no_artifact(tmp_path):
    config = _config(tmp_path, str(tmp_path / "no_such_dir"))
    with pytest.raises(Exception, match=r"lacks t10k-images-idx3-ubyte\.gz"):
        tfx.orchestration.LocalDagRunner().run(create_pipeline(config))

    assert _states(config) == {"TfdsExampleGen": "FAILED"}
    store = outputs.open_store(config.resolved_metadata_path)
    assert store.get_artifacts_by_type("Examples") == []


def test_beam_dag_runner_runs_every_component(tmp_path, placeholder_manual_dir):
    config = _config(tmp_path, placeholder_manual_dir, EXAMPLE_LIMIT="5")
    with tfds.testing.mock_data(num_examples=NUM_MOCK_EXAMPLES):
        BeamDagRunner().run(create_pipeline(config))

    assert _states(config) == dict.fromkeys(NODES, "COMPLETE")
    store = outputs.open_store(config.resolved_metadata_path)
    [examples] = store.get_artifacts_by_type("Examples")
    assert examples.custom_properties["num_examples_eval"].int_value == 5
