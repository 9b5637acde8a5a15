"""The whole pipeline under LocalDagRunner and BeamDagRunner on real MNIST, checked in MLMD."""

from __future__ import annotations

import json
import os
import re

import pytest
from tfx import v1 as tfx
from tfx.orchestration.beam.beam_dag_runner import BeamDagRunner
from tfx.utils import io_utils

from components.compress_exporter import CompressionReport
from components.prune_trainer import PruneTrainer, PruningCheckpoint
from pipelines import metadata, nodes
from pipelines.pipeline import create_components, create_pipeline
from tests.pipelines.support import EXAMPLE_LIMIT, make_config, node_artifacts, node_states
from tests.support import config_sparsity, kernel_zeros

NODES = list(nodes.ALL)  # the pipeline's nodes without warm start
OUTPUT_TYPES = {
    "TfdsExampleGen": {"Examples"},
    "StatisticsGen": {"ExampleStatistics"},
    "SchemaGen": {"Schema"},
    "ExampleValidator": {"ExampleAnomalies"},
    "Trainer": {"Model", "ModelRun"},
    "PruneTrainer": {"Model", "ModelRun", PruningCheckpoint.TYPE_NAME},
    "Evaluator": {"ModelEvaluation", "ModelBlessing"},
    "CompressExporter": {"Model", CompressionReport.TYPE_NAME},
    "Pusher": {"PushedModel"},
}
pytestmark = pytest.mark.e2e


def _custom_properties(artifact) -> dict:
    return {
        key: getattr(value, value.WhichOneof("value"))
        for key, value in artifact.custom_properties.items()
        if value.WhichOneof("value")
    }


def _first(store, type_name: str, uri: str):
    [artifact] = [a for a in store.get_artifacts_by_type(type_name) if a.uri == uri]
    return artifact


def test_local_runner_runs_every_component_and_records_their_figures(gated_runs):
    config, artifacts, summary = gated_runs.config, gated_runs.artifacts[0], gated_runs.summaries[0]
    assert gated_runs.states[0] == dict.fromkeys(NODES, "COMPLETE")
    types = {}
    for (node, _), artifact in artifacts.items():
        types.setdefault(node, set()).add(artifact.artifact_type)
    assert types == OUTPUT_TYPES

    store = metadata.open_sqlite(config.metadata_path)
    for artifact in store.get_artifacts():
        if "split_names" in artifact.properties:
            assert json.loads(artifact.properties["split_names"].string_value) == ["train", "eval"]
    [examples] = store.get_artifacts_by_type("Examples")
    assert examples.custom_properties["num_examples_train"].int_value == EXAMPLE_LIMIT
    assert examples.state == examples.LIVE

    from tensorflow_metadata.proto.v0 import schema_pb2

    schema = io_utils.parse_pbtxt_file(
        f"{artifacts['SchemaGen', 'schema'].uri}/schema.pbtxt", schema_pb2.Schema()
    )
    shapes = {f.name: [d.size for d in f.shape.dim] for f in schema.feature}
    assert shapes == {"image": [784], "label": [1]}
    assert config.metadata_path in summary
    assert artifacts["SchemaGen", "schema"].uri in summary
    assert f"sparsity {artifacts['PruneTrainer', 'model'].figures['sparsity']:.4f}" in summary
    assert "pushed 1" in summary and "compression_ratio" in summary
    assert "fields {" not in summary  # ExampleValidator's struct-valued `blessed` is left out

    # The trainers' figures, recorded on their Model artifacts.
    baseline, pruned = (
        _custom_properties(_first(store, "Model", artifacts[node, "model"].uri))
        for node in ("Trainer", "PruneTrainer")
    )
    # Each is its model's accuracy on the eval Examples, measured again here.
    from components import model_artifact
    from pruning import data

    images, labels = data.read_split(artifacts["TfdsExampleGen", "examples"].uri, "eval")
    for node, figures in (("Trainer", baseline), ("PruneTrainer", pruned)):
        model = model_artifact.load_model(artifacts[node, "model"].uri)
        logits = model(images, training=False).numpy()  # read_split scales the pixels
        correct = int((logits.argmax(axis=1) == labels).sum())
        # recorded to 6 decimals; one example is 1/600
        assert figures["test_accuracy"] == pytest.approx(correct / len(labels), abs=1e-6), node
        assert figures["test_loss"] > 0 and figures["num_eval_examples"] == EXAMPLE_LIMIT
    # Structured pruning (PRUNE_FILTER_SPARSITY in TINY_TRAINING: conv1 0.75, conv2 and conv3
    # 0.625, dense1 0.8125) narrowed the width-8 model: 8 -> 2, 16 -> 6, 16 -> 6, 32 -> 6.
    kept = {"conv1": 2, "conv2": 6, "conv3": 6, "dense1": 6}
    assert pruned["kept_channels"] == ",".join(f"{k}:{v}" for k, v in kept.items())
    model = _pruned_model(config)
    assert {name: model.get_layer(name).kernel.shape[-1] for name in kept} == kept
    assert pruned["num_parameters"] == model.count_params() < baseline["num_parameters"]
    # The recorded sparsity is the zeros the model's pruned kernels hold, counted here; it
    # reaches the default per-layer targets after structured pruning (NARROW_LAYER_SPARSITY)
    # added up over the narrowed model, and passes them only by the weights sparsity-preserving
    # clustering moves to its zero centroid (4 values per kernel here).
    assert pruned["sparsity"] == pytest.approx(kernel_zeros(model), abs=1e-4)
    assert config_sparsity(config, model) - 0.01 <= pruned["sparsity"] <= (
        config_sparsity(config, model) + 0.05)
    assert pruned["pruned_layers"] == "conv1,conv2,conv3,dense1,logits"
    assert pruned["clusters"] == 4
    [ckpt] = store.get_artifacts_by_type(PruningCheckpoint.TYPE_NAME)
    assert _custom_properties(ckpt)["epochs_done"] == 2
    _check_gate_export_and_push(config, store, artifacts)
    # Lineage: the PruneTrainer read the Trainer's model.
    [prune_execution] = [e for e in store.get_executions_by_type(PruneTrainer.get_class_type())
                         if e.last_known_state == e.COMPLETE]
    input_ids = {e.artifact_id for e in store.get_events_by_execution_ids([prune_execution.id])
                 if e.type == e.INPUT}
    assert _first(store, "Model", artifacts["Trainer", "model"].uri).id in input_ids


def test_three_runs_use_no_network(gated_runs):
    """No download at run time (Prism's binary, TFDS's GCS copy...): every Beam step, both
    trainers and the exporter ran in this process with the network refused and watched."""
    assert gated_runs.network_attempts == []


def test_each_component_says_when_it_starts_and_ends_and_whether_it_was_cached(gated_runs):
    first, cached = gated_runs.progress[0], gated_runs.progress[1]
    count = len(nodes.ALL)
    expected = [(i, node) for i, node in enumerate(nodes.ALL, 1) for _ in range(2)]
    for lines in (first, cached):
        assert [(int(line.split("[")[1].split("/")[0]), line.split("] ")[1].split()[0])
                for line in lines] == expected, lines
        assert all(line.endswith(" started") for line in lines[::2])
    assert first[0] == f"pipeline: [1/{count}] {nodes.EXAMPLE_GEN} started"
    trainer = first[2 * nodes.ALL.index(nodes.TRAINER) + 1]
    assert re.fullmatch(rf"pipeline: \[5/{count}\] Trainer done in \d+\.\d s", trainer)
    assert float(trainer.split()[-2]) > 1  # it trained: real seconds, not the cache's
    assert all(re.search(r" cached \(\d+\.\d s\)$", line) for line in cached[1::2]), cached


def test_unchanged_rerun_is_served_from_cache(gated_runs):
    assert gated_runs.states[1] == dict.fromkeys(NODES, "CACHED")
    assert {n: a.uri for n, a in gated_runs.artifacts[1].items()} == {
        n: a.uri for n, a in gated_runs.artifacts[0].items()
    }


def test_a_gate_the_drop_fails_blesses_nothing_and_nothing_is_pushed(gated_runs):
    """Run 3: a floor the pruned model passes and a drop limit (half its real drop) it fails."""
    states, strict = gated_runs.states[2], gated_runs.strict
    assert {node: states[node] for node in ("Trainer", "PruneTrainer", "Evaluator", "Pusher")} == {
        "Trainer": "CACHED", "PruneTrainer": "CACHED", "Evaluator": "COMPLETE",
        "Pusher": "COMPLETE"}
    store = metadata.open_sqlite(strict.metadata_path)
    assert len(store.get_artifacts_by_type("Examples")) == 1
    blessings = sorted(store.get_artifacts_by_type("ModelBlessing"), key=lambda a: a.id)
    assert [b.custom_properties["blessed"].int_value for b in blessings] == [1, 0]
    import tensorflow_model_analysis as tfma

    evaluation = gated_runs.artifacts[2]["Evaluator", "evaluation"].uri
    validation = tfma.load_validation_result(evaluation)
    assert not validation.validation_ok
    failures = [failure for per_slice in validation.metric_validations_per_slice
                for failure in per_slice.failures]
    # Only the drop against the baseline failed: the floor (value threshold) held.
    assert failures and all(f.metric_threshold.HasField("change_threshold") for f in failures)
    assert all(f.metric_key.is_diff for f in failures)
    pushes = sorted(store.get_artifacts_by_type("PushedModel"), key=lambda a: a.id)
    assert [p.custom_properties["pushed"].int_value for p in pushes] == [1, 0]
    assert len(os.listdir(strict.serving_model_dir)) == 1  # still only the first push
    report = _first(store, CompressionReport.TYPE_NAME,
                    gated_runs.artifacts[2]["CompressExporter", "report"].uri)
    assert report.custom_properties["blessed"].int_value == 0
    assert "pushed 0" in gated_runs.summaries[2]


def _check_gate_export_and_push(config, store, artifacts) -> None:
    """Evaluator blessed the pruned model, CompressExporter measured both, Pusher pushed."""
    blessing = _first(store, "ModelBlessing", artifacts["Evaluator", "blessing"].uri)
    assert blessing.custom_properties["blessed"].int_value == 1
    evaluation = _first(store, "ModelEvaluation", artifacts["Evaluator", "evaluation"].uri)
    import tensorflow_model_analysis as tfma

    result = tfma.load_eval_result(evaluation.uri, model_name="candidate")
    slices = {tuple(key) for key, _ in result.slicing_metrics}
    assert () in slices and any(key and key[0][0] == "label" for key in slices)
    overall = dict(result.slicing_metrics)[()][""][""]
    assert overall["example_count"]["doubleValue"] == EXAMPLE_LIMIT

    report_uri = artifacts["CompressExporter", "report"].uri
    with open(os.path.join(report_uri, "report.json")) as f:
        report = json.load(f)
    assert report["num_eval_examples"] == EXAMPLE_LIMIT
    assert report["summary"]["blessed"] is True
    exported = _first(store, "Model", artifacts["CompressExporter", "compressed"].uri)
    assert exported.custom_properties["compression_ratio"].double_value == pytest.approx(
        report["summary"]["compression_ratio"])

    pushed = _first(store, "PushedModel", artifacts["Pusher", "pushed_model"].uri)
    assert pushed.custom_properties["pushed"].int_value == 1
    destination = pushed.custom_properties["pushed_destination"].string_value
    assert destination.startswith(config.serving_model_dir)
    assert {"saved_model.pb", "pruned_int8.tflite"} <= set(os.listdir(destination))


def _pruned_model(config):
    from components import model_artifact

    return model_artifact.load_model(node_artifacts(config)["PruneTrainer", "model"].uri)


def test_failed_example_gen_publishes_no_artifact(tmp_path):
    config = make_config(tmp_path, tmp_path / "no_such_dir", tmp_path / "tfds")
    with pytest.raises(Exception, match=r"lacks t10k-images-idx3-ubyte\.gz"):
        tfx.orchestration.LocalDagRunner().run(create_pipeline(config))

    assert node_states(config) == {"TfdsExampleGen": "FAILED"}
    store = metadata.open_sqlite(config.metadata_path)
    assert store.get_artifacts_by_type("Examples") == []


def test_beam_dag_runner_runs_every_component(tmp_path, mnist_manual_dir, prepared_data_dir):
    config = make_config(tmp_path, mnist_manual_dir, prepared_data_dir, EXAMPLE_LIMIT="50")
    BeamDagRunner().run(create_pipeline(config))

    assert node_states(config) == dict.fromkeys(NODES, "COMPLETE")
    store = metadata.open_sqlite(config.metadata_path)
    [examples] = store.get_artifacts_by_type("Examples")
    assert examples.custom_properties["num_examples_eval"].int_value == 50
    [pruned] = [m for m in store.get_artifacts_by_type("Model") if "PruneTrainer" in m.uri]
    assert pruned.custom_properties["num_eval_examples"].int_value == 50


def test_warm_start_resolver_feeds_the_previous_checkpoint(tmp_path, mnist_manual_dir,
                                                           prepared_data_dir):
    config = make_config(tmp_path, mnist_manual_dir, prepared_data_dir, PRUNE_WARM_START="true",
                         EXAMPLE_LIMIT="100")
    full = create_pipeline(config)
    # Up to PruneTrainer: the gate, export and push are covered above.
    components = create_components(config)
    last = next(i for i, c in enumerate(components) if isinstance(c, PruneTrainer))
    partial = tfx.dsl.Pipeline(
        pipeline_name=full.pipeline_info.pipeline_name,
        pipeline_root=full.pipeline_info.pipeline_root,
        components=components[: last + 1],
        metadata_connection_config=full.metadata_connection_config,
        beam_pipeline_args=full.beam_pipeline_args,
    )
    for _ in range(2):
        tfx.orchestration.LocalDagRunner().run(partial)

    store = metadata.open_sqlite(config.metadata_path)
    checkpoints = sorted(store.get_artifacts_by_type(PruningCheckpoint.TYPE_NAME),
                         key=lambda a: a.id)
    iterations = [c.custom_properties["optimizer_iterations"].int_value for c in checkpoints]
    assert iterations == [iterations[0], 2 * iterations[0]]  # the second run continued the first
    executions = store.get_executions_by_type(PruneTrainer.get_class_type())
    [first_run, second_run] = sorted(executions, key=lambda e: e.id)
    inputs = {e.artifact_id for e in store.get_events_by_execution_ids([second_run.id])
              if e.type == e.INPUT}
    assert checkpoints[0].id in inputs
    first_inputs = {e.artifact_id for e in store.get_events_by_execution_ids([first_run.id])
                    if e.type == e.INPUT}
    assert not first_inputs & {c.id for c in checkpoints}  # nothing to continue the first time


def test_bench_control_trains_the_pruned_shape_from_scratch(gated_runs):
    from pipelines import bench

    accuracy, shape = bench.control_accuracy(gated_runs.config)
    # The narrowed width-8 model (2, 6, 6 filters, 6 units), trained with the baseline's recipe
    # (2 epochs) on the run's own 600 examples: better than chance, measured on all 600.
    assert shape == "the pruned model's shape (conv1 2, conv2 6, conv3 6, dense1 6)"
    assert 0.1 < accuracy <= 1
    assert accuracy * EXAMPLE_LIMIT == pytest.approx(round(accuracy * EXAMPLE_LIMIT), abs=1e-3)
