"""The pipeline's steps, executed from the compiled spec by TFX's Kubeflow v2 container entrypoint
(what each pod runs), with every artifact URI, data directory and the serving directory under
TensorFlow's in-memory filesystem `ram://`.

On a cluster the artifacts live in a bucket (gs://). `ram://` stands in for it: TensorFlow's file
functions reach it, Python's `open`, `glob`, `os` and `shutil` do not, so a step that bypasses
`tf.io.gfile` fails here (and a step that wrote `ram:/...` as a local path is caught too: the
working directory must stay empty). The run parameters (storage) are given as `make kfp-deploy`
gives them.
"""

from __future__ import annotations

import json
import os

import pytest
import tensorflow as tf
import tensorflow_datasets as tfds
from tfx.orchestration.kubeflow.v2.container import kubeflow_v2_run_executor
from tfx.utils import io_utils, proto_utils

from components.anomalies import AnomaliesFoundError
from pipelines.storage import push_destination
from tests.components.support import SCHEMA_PBTXT, anomalies_of, write_anomalies
from tests.kubeflow.support import kfp_config
from tests.support import MNIST_FILES, config_sparsity, kernel_zeros

pytestmark = pytest.mark.e2e
RAM = "ram://kfp"
NUM_MOCK_EXAMPLES = 16  # TFDS mock data: this test is about where files go, not about data
RUN_PARAMETERS = {
    "tfds_data_dir": f"{RAM}/tfds",
    "tfds_manual_dir": f"{RAM}/manual/mnist",
    "push_destination": proto_utils.proto_to_json(push_destination(f"{RAM}/serving")),
}


def run_step(compiled: dict, task: str, inputs: dict[str, dict], root: str,
             output_file: str) -> dict:
    """Runs `task`'s container command in this process; returns {output key: RuntimeArtifact}.

    `inputs` maps input keys to {"uri": ..., "metadata": {...}} of upstream outputs; outputs go
    to `<root>/<task>/<key>/1` as TFX lays them out (the execution id last: `ram://` lists by
    prefix, so `.../model` would also list `.../model_run`); pipeline parameters take
    RUN_PARAMETERS.
    """
    spec = compiled["pipelineSpec"]
    component = spec["components"][task]
    task_spec = spec["root"]["dag"]["tasks"][task]
    container = spec["deploymentSpec"]["executors"][component["executorLabel"]]["container"]
    assert container["command"][-1] == (
        "tfx.orchestration.kubeflow.v2.container.kubeflow_v2_run_executor")

    parameters = {}
    for key, value in task_spec["inputs"].get("parameters", {}).items():
        if "componentInputParameter" in value:  # a run parameter (storage)
            parameters[key] = RUN_PARAMETERS[value["componentInputParameter"]]
        else:  # pipeline spec 2.1: a plain JSON value
            parameters[key] = value["runtimeValue"]["constant"]
    artifacts = {}
    for key, definition in component["inputDefinitions"].get("artifacts", {}).items():
        if key in inputs:
            artifacts[key] = {"artifacts": [{
                "name": f"artifacts/{task}-{key}", "type": definition["artifactType"],
                "uri": inputs[key]["uri"], "metadata": inputs[key].get("metadata", {})}]}
    outputs = {}
    for key, definition in component["outputDefinitions"]["artifacts"].items():
        outputs[key] = {"artifacts": [{"name": f"artifacts/{task}-out-{key}",
                                       "type": definition["artifactType"],
                                       "uri": f"{root}/{task}/{key}/1"}]}
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


def _write(uri: str, text: str) -> None:
    tf.io.gfile.makedirs(os.path.dirname(uri))
    with tf.io.gfile.GFile(uri, "w") as f:
        f.write(text)


def _read_json(uri: str) -> dict:
    with tf.io.gfile.GFile(uri) as f:
        return json.load(f)


@pytest.fixture(scope="module")
def steps(compiled, tmp_path_factory) -> dict:
    local = tmp_path_factory.mktemp("kfp_steps")
    workdir = local / "cwd"
    workdir.mkdir()
    old_cwd = os.getcwd()
    os.chdir(workdir)  # where `ram://x` would land if code took it for a local path
    try:
        for name in MNIST_FILES:  # content is irrelevant under mock_data
            _write(f"{RUN_PARAMETERS['tfds_manual_dir']}/{name}", "")
        _write(f"{RAM}/schema/schema.pbtxt", SCHEMA_PBTXT)
        done = {}

        def step(task, inputs, root=f"{RAM}/root"):
            done[task] = run_step(compiled, task, inputs, root, str(local / f"{task}.json"))
            return done[task]

        with tfds.testing.mock_data(num_examples=NUM_MOCK_EXAMPLES):
            examples = step("TfdsExampleGen", {})["examples"]
        schema = {"uri": f"{RAM}/schema"}
        splits = {"split_names": '["train", "eval"]'}
        flagged = {"uri": write_anomalies(f"{RAM}/flagged", {
            "train": anomalies_of(label=("Out-of-range values", ["Unexpectedly large value: 12."])),
            "eval": anomalies_of()}).uri, "metadata": splits}
        try:  # the run parameter stop_on_anomalies reaches the executor through the spec
            step("Trainer", {"examples": examples, "schema": schema, "anomalies": flagged},
                 root=f"{RAM}/gated")
        except AnomaliesFoundError as error:
            done["gate"] = str(error)
        clean = {"uri": write_anomalies(f"{RAM}/anomalies").uri, "metadata": splits}
        baseline = step("Trainer", {"examples": examples, "schema": schema,
                                    "anomalies": clean})["model"]
        pruned = step("PruneTrainer", {"examples": examples, "schema": schema,
                                       "base_model": baseline})["model"]
        # The Evaluator is the one step kept local: TFMA reads examples and writes its results
        # with Beam's file IO, which knows gs:// and local paths, not TensorFlow's ram://.
        local_inputs = {}
        for key, artifact in (("examples", examples), ("model", pruned),
                              ("baseline_model", baseline)):
            copy = str(local / "evaluator_inputs" / key)
            io_utils.copy_dir(artifact["uri"], copy)
            local_inputs[key] = {**artifact, "uri": copy}
        blessing = step("Evaluator", local_inputs, root=str(local / "root"))["blessing"]
        exported = step("CompressExporter", {"baseline_model": baseline, "examples": examples,
                                             "model": pruned, "blessing": blessing})
        step("Pusher", {"model": exported["compressed"], "model_blessing": blessing})
    finally:
        os.chdir(old_cwd)
    done["workdir"] = sorted(os.listdir(workdir))
    return done


def test_nothing_took_a_ram_uri_for_a_local_path(steps):
    assert steps["workdir"] == []


def test_example_gen_step_writes_both_splits_under_the_bucket(steps):
    examples = steps["TfdsExampleGen"]["examples"]
    assert examples["uri"].startswith(RAM)
    assert sorted(tf.io.gfile.listdir(examples["uri"])) == ["Split-eval", "Split-train"]
    metadata = examples["metadata"]
    assert metadata["num_examples_train"] == NUM_MOCK_EXAMPLES
    assert metadata["tfds_dataset"] == "mnist"


def test_trainer_step_stops_on_the_validators_anomalies(steps):
    assert "1 of them, so training stops before it starts: split train: label: " \
           "Out-of-range values" in steps["gate"]
    assert tf.io.gfile.glob(f"{RAM}/gated/Trainer/model/1/*") == []  # nothing written


def test_trainer_steps_write_models_and_their_figures(steps):
    baseline = steps["Trainer"]["model"]
    assert tf.io.gfile.exists(f"{baseline['uri']}/Format-Keras/model.keras")
    assert tf.io.gfile.exists(f"{baseline['uri']}/Format-Serving/saved_model.pb")
    assert 0 <= baseline["metadata"]["test_accuracy"] <= 1
    pruned = steps["PruneTrainer"]
    assert pruned["model"]["metadata"]["clusters"] == 4
    # The recorded sparsity is the zeros of the model in the bucket, which reach the targets.
    from components import model_artifact

    model = model_artifact.load_model(pruned["model"]["uri"])
    recorded = pruned["model"]["metadata"]["sparsity"]
    assert recorded == pytest.approx(kernel_zeros(model), abs=1e-4)
    assert recorded >= config_sparsity(kfp_config(), model) - 0.01
    assert tf.io.gfile.listdir(pruned["checkpoint"]["uri"])
    sparsity = _read_json(f"{pruned['model']['uri']}/sparsity.json")
    assert sparsity["overall"] == pytest.approx(pruned["model"]["metadata"]["sparsity"])
    # The resume checkpoints lived beside the outputs, in the bucket, and were cleaned up.
    assert tf.io.gfile.listdir(f"{RAM}/root/PruneTrainer/.resume") == []


def test_evaluator_step_blesses_the_pruned_model(steps):
    assert steps["Evaluator"]["blessing"]["metadata"]["blessed"] == 1


def test_compress_exporter_step_writes_the_files_and_report_into_the_bucket(steps):
    exported = steps["CompressExporter"]
    files = set(tf.io.gfile.listdir(exported["compressed"]["uri"]))
    assert {"pruned_int8.tflite", "baseline_float.tflite", "Format-Serving"} <= files
    summary = _read_json(f"{exported['report']['uri']}/report.json")["summary"]
    assert exported["compressed"]["metadata"]["compression_ratio"] == pytest.approx(
        summary["compression_ratio"])
    assert summary["int8_tflite_accuracy"] is not None and summary["blessed"] is True


def test_pusher_step_pushes_into_the_serving_directory_given_at_submission(steps):
    pushed = steps["Pusher"]["pushed_model"]["metadata"]
    assert pushed["pushed"] == 1
    destination = pushed["pushed_destination"]
    assert destination.startswith(f"{RAM}/serving/")
    assert {"saved_model.pb", "pruned_int8.tflite"} <= set(tf.io.gfile.listdir(destination))
