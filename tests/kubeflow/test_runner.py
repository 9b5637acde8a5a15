"""kubeflow/runner.py: the compiled KFP v2 spec and what it refers to."""

from __future__ import annotations

import contextlib
import importlib
import json
import os
from unittest import mock

import pytest
from google.protobuf import json_format
from kfp.pipeline_spec import pipeline_spec_pb2
from tfx.proto import pusher_pb2
from tfx.utils import import_utils, proto_utils

from components.compress_exporter import CompressionReport
from components.prune_trainer import PruningCheckpoint
from kubeflow import runner
from pipelines import configs, nodes
from tests.kubeflow.support import BUCKET, IMAGE, kfp_config

STORAGE_VARIABLES = ("PIPELINE_NAME", "PIPELINE_ROOT", "TFDS_DATA_DIR", "TFDS_MANUAL_DIR",
                     "SERVING_MODEL_DIR", "DATASET")


@contextlib.contextmanager
def mock_environ(environ: dict[str, str]):
    with mock.patch.dict(os.environ, environ, clear=True):
        yield

NODES = set(nodes.ALL)


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
            "components.compress_exporter.executor.Executor",
            "components.standard.StatisticsGenExecutor",
            "components.standard.SchemaGenExecutor",
            "components.standard.EvaluatorExecutor"} <= classes
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
    assert not any("FnApiRunner" in a for e in executors.values()
                   for a in e["container"].get("args", []))


def test_storage_is_a_run_parameter_with_the_compile_time_values_as_defaults(compiled):
    parameters = compiled["pipelineSpec"]["root"]["inputDefinitions"]["parameters"]
    assert parameters["tfds_data_dir"]["defaultValue"] == f"{BUCKET}/tfds"
    assert parameters["tfds_manual_dir"]["defaultValue"] == f"{BUCKET}/manual/mnist"
    destination = proto_utils.json_to_proto(parameters["push_destination"]["defaultValue"],
                                            pusher_pb2.PushDestination())
    assert destination.filesystem.base_directory == f"{BUCKET}/serving"
    tasks = compiled["pipelineSpec"]["root"]["dag"]["tasks"]
    example_gen = tasks["TfdsExampleGen"]["inputs"]["parameters"]
    assert example_gen["data_dir"] == {"componentInputParameter": "tfds_data_dir"}
    assert example_gen["manual_dir"] == {"componentInputParameter": "tfds_manual_dir"}
    assert tasks["Pusher"]["inputs"]["parameters"]["push_destination"] == {
        "componentInputParameter": "push_destination"}
    assert BUCKET not in json.dumps(tasks)  # no path is baked into a step


def test_with_nothing_set_one_spec_is_compiled_for_any_bucket(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(runner, "BUILD_DIR", tmp_path)
    environ = {"KFP_IMAGE": IMAGE}
    runner_env = {k: v for k, v in os.environ.items() if k not in STORAGE_VARIABLES}
    with mock_environ({**runner_env, **environ}):
        runner.main([])
    out = capsys.readouterr().out
    path = tmp_path / "mnist-pruning.json"
    assert out.startswith(f"Wrote {path}: pipeline mnist-pruning")
    assert "PIPELINE_NAME unset: 'mnist_pruning' became 'mnist-pruning'" in out
    assert ("To give when submitting a run (`make kfp-deploy`): PIPELINE_ROOT (--pipeline-root), "
            "TFDS_DATA_DIR (--tfds-data-dir), TFDS_MANUAL_DIR (--tfds-manual-dir), "
            "SERVING_MODEL_DIR (--serving-model-dir).") in out
    job = json.loads(path.read_text())
    assert "gcsOutputDirectory" not in job["runtimeConfig"]
    parameters = job["pipelineSpec"]["root"]["inputDefinitions"]["parameters"]
    assert set(parameters) == {"tfds_data_dir", "tfds_manual_dir", "push_destination"}
    assert not any("defaultValue" in p for p in parameters.values())
    assert runner.spec_parameters(str(path)) == dict.fromkeys(runner.STORAGE_OPTIONS)


@pytest.mark.parametrize(("dataset", "name"), [("mnist", "mnist-pruning"),
                                                ("fashion_mnist", "fashion-mnist-pruning")])
def test_the_default_name_is_made_valid_for_kubeflow(dataset, name):
    config = configs.load_config([], environ={"DATASET": dataset})
    assert runner.kfp_pipeline_name(config) == name
    named = configs.load_config([], environ={"DATASET": dataset,
                                             "PIPELINE_NAME": config.pipeline_name})
    assert runner.kfp_pipeline_name(named) == config.pipeline_name


@pytest.mark.parametrize(
    ("overrides", "message"),
    [({"PIPELINE_ROOT": "/local/root"}, "storage must be gs:// URIs (or left unset and given "
      "when the run is submitted): PIPELINE_ROOT=/local/root"),
     ({"TFDS_DATA_DIR": "s3://b/tfds"}, "TFDS_DATA_DIR=s3://b/tfds"),
     ({"SERVING_MODEL_DIR": "build/serving"}, "SERVING_MODEL_DIR=build/serving"),
     ({"PIPELINE_NAME": "mnist_pruning"}, "PIPELINE_NAME='mnist_pruning': Kubeflow"),
     ({"PRUNE_WARM_START": "true"}, "PRUNE_WARM_START=true needs a Resolver")],
)
def test_settings_that_cannot_work_in_a_cluster_are_refused(tmp_path, overrides, message):
    with pytest.raises(configs.SettingsError) as raised:
        runner.compile_pipeline(kfp_config(**overrides), tmp_path)
    assert message in str(raised.value)
    assert list(tmp_path.iterdir()) == []


def test_every_problem_is_named_in_one_line(capsys):
    argv = ["--pipeline-name", "Bad_Name", "--pipeline-root", "/tmp/r", "--tfds-manual-dir",
            "hdfs://nn/m"]
    with pytest.raises(SystemExit) as raised:
        runner.main(argv)
    assert raised.value.code == 2
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith("kfp-compile: error: PIPELINE_NAME='Bad_Name': Kubeflow Pipelines v2")
    assert line.endswith("PIPELINE_ROOT=/tmp/r, TFDS_MANUAL_DIR=hdfs://nn/m")


def test_a_model_module_travels_inside_the_compiled_pipeline(tmp_path):
    """The module's source is a parameter of the Trainer in the spec, as TFX's module_file
    travels with a pipeline: a pod runs it without the developer's file."""
    import hashlib

    module = tmp_path / "my_model.py"
    module.write_text("import tf_keras as keras\n\n\ndef build_model(input_shape, num_classes):\n"
                      "    i = keras.Input(input_shape)\n"
                      "    return keras.Model(i, keras.layers.Dense(num_classes)("
                      "keras.layers.Flatten()(i)))\n")
    overrides = dict.fromkeys(("MODEL_WIDTH", "DENSE_UNITS", "PRUNE_FILTER_SPARSITY"), "")
    path = runner.compile_pipeline(kfp_config(MODEL_MODULE=str(module), **overrides), tmp_path)
    with open(path) as f:
        tasks = json.load(f)["pipelineSpec"]["root"]["dag"]["tasks"]
    config = json.loads(
        tasks["Trainer"]["inputs"]["parameters"]["custom_config"]["runtimeValue"]["constant"])
    travelled = config["model_module"]
    assert travelled["source"] == module.read_text()
    assert travelled["sha256"] == hashlib.sha256(module.read_bytes()).hexdigest()
    assert "model" not in config  # the project's CNN's shape: not this model's


def test_a_base_model_must_be_a_uri_the_pods_can_read(tmp_path):
    trained = tmp_path / "model.keras"
    trained.write_text("")
    with pytest.raises(configs.SettingsError, match=r"BASE_MODEL=.*model.keras: the Importer "
                                                    r"runs in a pod, so the model must be a gs://"):
        runner.compile_pipeline(kfp_config(BASE_MODEL=str(trained), MODEL_WIDTH="",
                                           DENSE_UNITS="", PRUNE_FILTER_SPARSITY=""), tmp_path)
