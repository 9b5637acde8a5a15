"""`pipelines.nodes` (what readers look up, without TFX) agrees with the specs and the pipeline."""

from __future__ import annotations

import pytest
from tfx.types import standard_component_specs

from components.compress_exporter import CompressionReport
from components.compress_exporter import spec as exporter_spec
from components.prune_trainer import PruningCheckpoint
from components.prune_trainer import spec as prune_spec
from pipelines import configs, nodes
from pipelines.pipeline import create_pipeline


@pytest.mark.parametrize(("output", "key", "type_name"), [
    (nodes.EXAMPLES, standard_component_specs.EXAMPLES_KEY, "Examples"),
    (nodes.BASELINE_MODEL, standard_component_specs.MODEL_KEY, "Model"),
    (nodes.PRUNED_MODEL, prune_spec.MODEL_KEY, "Model"),
    (nodes.CHECKPOINT, prune_spec.CHECKPOINT_KEY, PruningCheckpoint.TYPE_NAME),
    (nodes.BLESSING, standard_component_specs.BLESSING_KEY, "ModelBlessing"),
    (nodes.COMPRESSED, exporter_spec.COMPRESSED_KEY, "Model"),
    (nodes.REPORT, exporter_spec.REPORT_KEY, CompressionReport.TYPE_NAME),
    (nodes.PUSHED_MODEL, standard_component_specs.PUSHED_MODEL_KEY, "PushedModel"),
])
def test_each_output_names_its_specs_key_and_type(output, key, type_name):
    assert (output.key, output.type) == (key, type_name)


@pytest.mark.parametrize("warm_start", ["false", "true"])
def test_the_pipeline_uses_exactly_these_ids_and_outputs(tmp_path, warm_start):
    pipeline = create_pipeline(configs.load_config([], environ={
        "PIPELINE_ROOT": str(tmp_path), "PRUNE_WARM_START": warm_start}))
    by_id = {component.id: component for component in pipeline.components}
    resolver = {nodes.WARM_START_RESOLVER} if warm_start == "true" else set()
    assert set(by_id) == set(nodes.ALL) | resolver
    for output in (nodes.EXAMPLES, nodes.BASELINE_MODEL, nodes.PRUNED_MODEL, nodes.CHECKPOINT,
                   nodes.BLESSING, nodes.COMPRESSED, nodes.REPORT, nodes.PUSHED_MODEL):
        assert by_id[output.node].outputs[output.key].type_name == output.type


def test_node_contexts_are_read_one_way_even_for_a_dotted_pipeline_name():
    from ml_metadata.proto import metadata_store_pb2

    from pipelines import metadata

    context = metadata_store_pb2.Context(name="team.mnist.v2.PruneTrainer")
    assert metadata.node_of(context) == ("team.mnist.v2", "PruneTrainer")
    assert metadata.node_id(context, "team.mnist.v2") == "PruneTrainer"
    assert metadata.node_id(context, "team") is None  # not pipeline "team"'s node "mnist.v2..."


def test_pqat_gets_the_pipelines_seed_and_batch_size(tmp_path):
    from pruning.params import TrainingParams

    pipeline = create_pipeline(configs.load_config([], environ={
        "PIPELINE_ROOT": str(tmp_path), "SEED": "7", "BATCH_SIZE": "48", "PQAT_EPOCHS": "1"}))
    [exporter] = [c for c in pipeline.components if c.id == nodes.COMPRESS_EXPORTER]
    training = TrainingParams.from_json(exporter.exec_properties[exporter_spec.TRAINING_KEY])
    assert (training.seed, training.batch_size) == (7, 48)
