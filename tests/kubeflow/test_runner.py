"""kubeflow/runner.py: the compiled KFP v2 spec and what it refers to."""

from __future__ import annotations

import importlib
import json

import pytest
from google.protobuf import json_format
from kfp.pipeline_spec import pipeline_spec_pb2
from tfx.utils import import_utils

from components.compress_exporter import CompressionReport
from components.prune_trainer import PruningCheckpoint
from kubeflow import runner
from tests.kubeflow.conftest import IMAGE, kfp_config

NODES = {"TfdsExampleGen", "StatisticsGen", "SchemaGen", "ExampleValidator", "Trainer",
         "PruneTrainer", "Evaluator", "CompressExporter", "Pusher"}


def test_spec_parses_as_a_pipeline_spec_with_every_component(compiled):
    spec = json_format.ParseDict(compiled["pipelineSpec"], pipeline_spec_pb2.PipelineSpec())
    assert spec.pipeline_info.name == "mnist-pruning"
    assert set(spec.root.dag.tasks) == NODES
    executors = spec.deployment_spec["executors"]
    assert len(executors) == len(NODES)
    for name, executor in executors.items():
        container = executor["container"]
        assert container["image"] == IMAGE, name
    assert compiled["runtimeConfig"]["gcsOutputDirectory"] == "gs://test-bucket/root"


def test_every_executor_and_module_named_in_the_spec_imports(compiled):
    executors = compiled["pipelineSpec"]["deploymentSpec"]["executors"]
    classes = set()
    for executor in executors.values():
        args = executor["container"].get("args", [])
        if "--executor_class_path" in args:
            classes.add(args[args.index("--executor_class_path") + 1])
    assert {"components.tfds_example_gen.executor.Executor",
            "components.baseline_trainer.executor.Executor",
            "components.prune_trainer.executor.Executor",
            "components.compress_exporter.executor.Executor"} <= classes
    for path in classes:
        assert isinstance(import_utils.import_class_by_path(path), type), path
    trainer = compiled["pipelineSpec"]["root"]["dag"]["tasks"]["Trainer"]["inputs"]["parameters"]
    run_fn = trainer["run_fn"]["runtimeValue"]["constant"]
    module, _, function = run_fn.rpartition(".")
    assert callable(getattr(importlib.import_module(module), function))


@pytest.mark.parametrize("artifact_type", [PruningCheckpoint, CompressionReport])
def test_custom_artifact_types_import_from_their_schema_title(compiled, artifact_type):
    text = json.dumps(compiled)
    assert f"title: {artifact_type.TYPE_NAME}\\n" in text
    assert import_utils.import_class_by_path(artifact_type.TYPE_NAME) is artifact_type


def test_cluster_beam_args_replace_the_direct_runner(tmp_path):
    args = "--runner=DataflowRunner --project=p --region=europe-west1 --temp_location=gs://b/tmp"
    path = runner.compile_pipeline(kfp_config(BEAM_ARGS=args), tmp_path)
    with open(path) as f:
        executors = json.load(f)["pipelineSpec"]["deploymentSpec"]["executors"]
    container_args = executors["StatisticsGen_executor"]["container"]["args"]
    assert args.split() == container_args[-4:]
    assert not any("DirectRunner" in a for e in executors.values()
                   for a in e["container"].get("args", []))


@pytest.mark.parametrize(
    ("overrides", "message"),
    [({"PIPELINE_ROOT": "/local/root"}, "PIPELINE_ROOT=/local/root"),
     ({"TFDS_MANUAL_DIR": ""}, "TFDS_MANUAL_DIR=(unset)"),
     ({"SERVING_MODEL_DIR": "build/serving"}, "SERVING_MODEL_DIR=build/serving"),
     ({"PIPELINE_NAME": "mnist_pruning"}, "PIPELINE_NAME='mnist_pruning': Kubeflow"),
     ({"PRUNE_WARM_START": "true"}, "PRUNE_WARM_START=true needs a Resolver")],
)
def test_settings_that_cannot_work_in_a_cluster_are_refused(tmp_path, overrides, message):
    with pytest.raises(ValueError, match=message.replace("(", "\\(").replace(")", "\\)")):
        runner.compile_pipeline(kfp_config(**overrides), tmp_path)
    assert list(tmp_path.iterdir()) == []
