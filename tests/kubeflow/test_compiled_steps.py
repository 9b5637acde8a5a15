"""The custom components' steps, executed from the compiled spec by TFX's Kubeflow v2 container
entrypoint (what each pod runs), with the placeholders filled with local paths and tiny data.

A spec that compiles but whose steps cannot run in the container fails here.
"""

from __future__ import annotations

import json
import os

import pytest
import tensorflow_datasets as tfds
from tfx.orchestration.kubeflow.v2.container import kubeflow_v2_run_executor

from tests.components.conftest import SCHEMA_PBTXT
from tests.kubeflow.conftest import BUCKET
from tests.pipelines.conftest import NUM_MOCK_EXAMPLES

pytestmark = pytest.mark.e2e


def run_step(compiled: dict, task: str, inputs: dict[str, dict], root, local_bucket: str) -> dict:
    """Runs `task`'s container command in this process; returns {output key: RuntimeArtifact}.

    `inputs` maps input keys to {"uri": ..., "metadata": {...}} of upstream outputs; every
    gs://test-bucket path in the parameters becomes `local_bucket`.
    """
    spec = compiled["pipelineSpec"]
    component = spec["components"][task]
    task_spec = spec["root"]["dag"]["tasks"][task]
    container = spec["deploymentSpec"]["executors"][component["executorLabel"]]["container"]
    assert container["command"][-1] == (
        "tfx.orchestration.kubeflow.v2.container.kubeflow_v2_run_executor")

    parameters = {}
    for key, value in task_spec["inputs"].get("parameters", {}).items():
        constant = value["runtimeValue"]["constant"]  # pipeline spec 2.1: a plain JSON value
        parameters[key] = (constant.replace(BUCKET, local_bucket) if isinstance(constant, str)
                           else constant)
    artifacts = {}
    for key, definition in component["inputDefinitions"].get("artifacts", {}).items():
        if key in inputs:
            artifacts[key] = {"artifacts": [{
                "name": f"artifacts/{task}-{key}", "type": definition["artifactType"],
                "uri": inputs[key]["uri"], "metadata": inputs[key].get("metadata", {})}]}
    outputs = {}
    for key, definition in component["outputDefinitions"]["artifacts"].items():
        uri = os.path.join(str(root), task, key)
        outputs[key] = {"artifacts": [{"name": f"artifacts/{task}-out-{key}",
                                       "type": definition["artifactType"], "uri": uri}]}
    output_file = os.path.join(str(root), task, "executor_output.json")
    executor_input = {
        "inputs": {"parameterValues": parameters, "artifacts": artifacts},
        "outputs": {"artifacts": outputs, "outputFile": output_file},
    }
    argv = [json.dumps(executor_input) if a == "{{$}}" else a for a in container["args"]]
    args, beam_args = kubeflow_v2_run_executor._parse_flags(argv)
    kubeflow_v2_run_executor._run_executor(args, beam_args)

    with open(output_file) as f:
        written = json.load(f)["artifacts"]
    return {key: value["artifacts"][0] for key, value in written.items()}


@pytest.fixture(scope="module")
def steps(compiled, tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("kfp_steps")
    local_bucket = str(root / "bucket")
    manual = root / "bucket" / "manual" / "mnist"
    manual.mkdir(parents=True)
    for name in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz",
                 "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"):
        (manual / name).write_bytes(b"")  # content is irrelevant under mock_data
    done = {}
    with tfds.testing.mock_data(num_examples=NUM_MOCK_EXAMPLES):
        done["TfdsExampleGen"] = run_step(compiled, "TfdsExampleGen", {}, root, local_bucket)
    examples = done["TfdsExampleGen"]["examples"]
    schema_dir = root / "schema"
    schema_dir.mkdir()
    (schema_dir / "schema.pbtxt").write_text(SCHEMA_PBTXT)
    schema = {"uri": str(schema_dir)}
    done["Trainer"] = run_step(compiled, "Trainer", {"examples": examples, "schema": schema},
                               root, local_bucket)
    baseline = done["Trainer"]["model"]
    done["PruneTrainer"] = run_step(
        compiled, "PruneTrainer", {"examples": examples, "schema": schema,
                                   "base_model": baseline}, root, local_bucket)
    done["CompressExporter"] = run_step(
        compiled, "CompressExporter", {"baseline_model": baseline, "examples": examples,
                                       "model": done["PruneTrainer"]["model"]},
        root, local_bucket)
    return done


def test_example_gen_step_writes_both_splits_from_the_filled_in_dirs(steps):
    examples = steps["TfdsExampleGen"]["examples"]
    assert sorted(os.listdir(examples["uri"])) == ["Split-eval", "Split-train"]
    metadata = examples["metadata"]
    assert metadata["num_examples_train"] == NUM_MOCK_EXAMPLES
    assert metadata["tfds_dataset"] == "mnist"


def test_trainer_steps_write_models_and_their_figures(steps):
    baseline = steps["Trainer"]["model"]
    assert os.path.isfile(os.path.join(baseline["uri"], "Format-Keras", "model.keras"))
    assert 0 <= baseline["metadata"]["test_accuracy"] <= 1
    pruned = steps["PruneTrainer"]
    assert pruned["model"]["metadata"]["clusters"] == 4
    assert pruned["model"]["metadata"]["sparsity"] > 0.5
    assert os.listdir(pruned["checkpoint"]["uri"])
    with open(os.path.join(pruned["model"]["uri"], "sparsity.json")) as f:
        assert json.load(f)["overall"] == pytest.approx(pruned["model"]["metadata"]["sparsity"])


def test_compress_exporter_step_writes_the_files_and_report(steps):
    exported = steps["CompressExporter"]
    files = set(os.listdir(exported["compressed"]["uri"]))
    assert {"pruned_int8.tflite", "baseline_float.tflite", "Format-Serving"} <= files
    with open(os.path.join(exported["report"]["uri"], "report.json")) as f:
        summary = json.load(f)["summary"]
    assert exported["compressed"]["metadata"]["compression_ratio"] == pytest.approx(
        summary["compression_ratio"])
    assert summary["int8_tflite_accuracy"] is not None
