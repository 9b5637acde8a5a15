"""kubeflow/local.py without Docker: the two kfp.local fixes, guarded against the pinned kfp, the
local storage it mounts, and its bad inputs (one line, exit 2, seconds)."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest
from google.protobuf import json_format
from kfp.local import executor_input_utils, executor_output_utils
from kfp.pipeline_spec import pipeline_spec_pb2

from kubeflow import local
from pipelines import configs
from tests.kubeflow.support import clean_environ


def _output_types(compiled: dict) -> dict[str, dict]:
    """{task/key: artifactType (JSON)} of every output in the compiled spec."""
    components = compiled["pipelineSpec"]["components"]
    return {f"{task}/{key}": definition["artifactType"]
            for task, component in components.items()
            for key, definition in component.get("outputDefinitions", {})
            .get("artifacts", {}).items()}


def _round_trip(artifact_type: dict) -> pipeline_spec_pb2.ArtifactTypeSchema:
    """An output as kfp.local hands it to the next task: RuntimeArtifact -> dsl.Artifact ->
    the next executor input's RuntimeArtifact."""
    runtime = pipeline_spec_pb2.RuntimeArtifact(
        name="examples", uri="/root/run/TfdsExampleGen/examples",
        type=json_format.ParseDict(artifact_type, pipeline_spec_pb2.ArtifactTypeSchema()))
    artifact = executor_output_utils.runtime_artifact_to_dsl_artifact(runtime)
    return executor_input_utils.dsl_artifact_to_artifact_list(artifact).artifacts[0].type


def test_tfx_gives_artifact_types_as_instance_schemas(compiled):
    types = _output_types(compiled)
    assert len(types) >= 10
    assert all(t["instanceSchema"].startswith(("title: tfx.", "title: components."))
               for t in types.values())


def test_pinned_kfp_local_still_drops_tfx_artifact_types(compiled):
    """When this fails, kfp.local keeps the types itself: remove fix 1 of
    kubeflow.local.kfp_local_fixes."""
    kept = _round_trip(_output_types(compiled)["TfdsExampleGen/examples"])
    assert kept.schema_title == "system.Artifact" and not kept.instance_schema


def test_pinned_kfp_local_still_cuts_comp_off_every_component_name():
    """When this fails, kfp.local cuts only a real `comp-` prefix: remove fix 2."""
    assert executor_input_utils.get_local_task_resource_name("Evaluator") == "ator"


def test_with_the_fixes_every_output_type_reaches_the_next_task(compiled):
    types = _output_types(compiled)
    with local.kfp_local_fixes():
        for name, artifact_type in types.items():
            kept = _round_trip(artifact_type)
            assert json_format.MessageToDict(kept) == artifact_type, name
    # Outside the block kfp.local is as shipped.
    assert _round_trip(types["TfdsExampleGen/examples"]).schema_title == "system.Artifact"


def test_with_the_fixes_task_directories_are_named_after_their_components():
    with local.kfp_local_fixes():
        assert executor_input_utils.get_local_task_resource_name("Evaluator") == "Evaluator"
        assert executor_input_utils.get_local_task_resource_name("comp-train") == "train"
    assert executor_input_utils.get_local_task_resource_name("Evaluator") == "ator"


def _config(**environ) -> configs.PipelineConfig:
    return configs.load_config([], environ=clean_environ(**environ))


def test_storage_defaults_to_directories_under_the_root(tmp_path):
    manual = tmp_path / "manual"
    manual.mkdir()
    storage = local.local_storage(_config(TFDS_MANUAL_DIR=str(manual)), "mnist-pruning")
    root = str(configs.BUILD_DIR / "kfp-local" / "mnist-pruning")
    assert storage == {"pipeline_root": root,
                       "tfds_data_dir": f"{root}/tensorflow_datasets",
                       "tfds_manual_dir": str(manual),
                       "serving_model_dir": f"{root}/serving"}


def test_bucket_storage_is_refused_naming_each_option(tmp_path):
    config = _config(PIPELINE_ROOT="gs://b/root", SERVING_MODEL_DIR="gs://b/serving",
                     TFDS_MANUAL_DIR=str(tmp_path))
    with pytest.raises(configs.SettingsError) as raised:
        local.local_storage(config, "mnist-pruning")
    message = str(raised.value)
    assert "PIPELINE_ROOT=gs://b/root" in message and "SERVING_MODEL_DIR=gs://b/serving" in message
    assert "make kfp-deploy" in message and "\n" not in message


def test_a_missing_manual_dir_is_named(tmp_path):
    with pytest.raises(configs.SettingsError, match=r"TFDS_MANUAL_DIR \(--tfds-manual-dir\)"):
        local.local_storage(_config(TFDS_MANUAL_DIR=str(tmp_path / "none")), "mnist-pruning")


def _command(module: str, environ: dict[str, str], timeout: float = 20):
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", module], env=environ, capture_output=True,
                          text=True, timeout=timeout, cwd=configs.PROJECT_ROOT)
    return done, time.monotonic() - started


@pytest.mark.parametrize("module", ["kubeflow.local", "kubeflow.image"])
def test_a_daemon_that_does_not_answer_is_named_with_the_command_that_starts_it(
        module, tmp_path):
    environ = clean_environ(DOCKER_HOST=f"unix://{tmp_path}/docker.sock",
                            TFDS_MANUAL_DIR=str(tmp_path))
    done, seconds = _command(module, environ)
    assert done.returncode == 2, done.stderr
    [line] = done.stderr.strip().splitlines()
    assert f"Docker's daemon does not answer at unix://{tmp_path}/docker.sock" in line
    assert "`make docker-start`" in line and seconds < 15


def test_docker_not_installed_is_named_with_the_package_that_brings_it(tmp_path):
    environ = clean_environ(PATH=str(tmp_path), TFDS_MANUAL_DIR=str(tmp_path))
    done, _ = _command("kubeflow.local", environ)
    assert done.returncode == 2
    [line] = done.stderr.strip().splitlines()
    assert line == ("kfp-local: error: Docker is not installed: apt-get install docker.io "
                    "(scripts/setup_os.sh installs it), then make docker-start")


def test_bucket_storage_fails_before_docker_is_asked(tmp_path):
    environ = clean_environ(DOCKER_HOST=f"unix://{tmp_path}/docker.sock",
                            PIPELINE_ROOT="gs://b/root")
    done, _ = _command("kubeflow.local", environ)
    assert done.returncode == 2
    assert "storage must be local paths: PIPELINE_ROOT=gs://b/root" in done.stderr
    assert "Docker" not in done.stderr
