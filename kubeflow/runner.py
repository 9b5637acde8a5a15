"""Compiles the same `create_pipeline()` for Kubeflow Pipelines v2 (also Vertex AI Pipelines).

    make kfp-compile [KFP_IMAGE=REGISTRY/tfx-pruning-pipeline:TAG] [PIPELINE_NAME=...]
    python -m kubeflow.runner [--kfp-image ...] [--beam-args '...']

Writes kubeflow/build/<pipeline name>.json with TFX's KubeflowV2DagRunner. Every option is the
local pipeline's (pipelines/configs.py). One spec serves any bucket: the storage options are
parameters of the compiled pipeline, given when a run is submitted (`make kfp-deploy`):

    PIPELINE_ROOT      the run's pipeline root (KFP's `pipeline_root`)
    TFDS_DATA_DIR      pipeline parameter `tfds_data_dir`
    TFDS_MANUAL_DIR    pipeline parameter `tfds_manual_dir`
    SERVING_MODEL_DIR  pipeline parameter `push_destination` (the Pusher's PushDestination, JSON)

Set when compiling, they become the defaults the spec carries. Each must be a `gs://` URI: the
only remote scheme TensorFlow 2.21 reads and writes (`s3://`, `hdfs://`, `az://` are not
implemented in it; docs/operations.md, "Storage: which URIs work").
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from pipelines import configs, entrypoint

if TYPE_CHECKING:
    from pipelines.storage import Storage

BUILD_DIR = Path(__file__).resolve().parent / "build"
REMOTE_SCHEMES = ("gs://",)
KFP_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,127}")  # what KFP v2 accepts as a pipeline name
# {storage option: pipeline parameter of the compiled spec}; the root is KFP's own.
RUN_PARAMETERS = {
    "tfds_data_dir": "tfds_data_dir",
    "tfds_manual_dir": "tfds_manual_dir",
    "serving_model_dir": "push_destination",
}
STORAGE_OPTIONS = ("pipeline_root", *RUN_PARAMETERS)


def kfp_pipeline_name(config: configs.PipelineConfig) -> str:
    """The pipeline name; a default one (`mnist_pruning`) made valid for KFP (`mnist-pruning`)."""
    if config.is_set("pipeline_name") or KFP_NAME.fullmatch(config.pipeline_name):
        return config.pipeline_name
    return config.pipeline_name.replace("_", "-").lower()


def remote_uri_problems(values: dict[str, str | None]) -> list[str]:
    """`VAR=value` of each given storage value that is not a URI the pods can reach."""
    return [f"{configs.OPTIONS[name].env}={value}"
            for name, value in values.items()
            if value and not value.startswith(REMOTE_SCHEMES)]


def check_for_kubeflow(config: configs.PipelineConfig, name: str) -> None:
    """SettingsError, one line naming every setting a cluster cannot use."""
    problems = []
    if not KFP_NAME.fullmatch(name):
        problems.append(f"PIPELINE_NAME={name!r}: Kubeflow Pipelines v2 needs lower-case "
                        "letters, digits and '-' (e.g. mnist-pruning)")
    if config.prune_warm_start:
        problems.append(
            "PRUNE_WARM_START=true needs a Resolver with a custom strategy, which TFX's Kubeflow "
            "v2 compiler does not support (only LatestArtifactStrategy and "
            "LatestBlessedModelStrategy): run warm starts locally")
    if config.base_model and not config.base_model.startswith(REMOTE_SCHEMES):
        problems.append(f"BASE_MODEL={config.base_model}: the Importer runs in a pod, so the "
                        f"model must be a {' or '.join(REMOTE_SCHEMES)} URI")
    bad = remote_uri_problems({option: config.given_value(option) for option in STORAGE_OPTIONS})
    if bad:
        problems.append(
            f"Kubeflow steps run in pods, so storage must be {' or '.join(REMOTE_SCHEMES)} URIs "
            f"(or left unset and given when the run is submitted): {', '.join(bad)}")
    if problems:
        raise configs.SettingsError("; ".join(problems))


def run_parameters(config: configs.PipelineConfig) -> tuple[Storage, dict[str, str]]:
    """The pipeline's Storage for Kubeflow (run parameters), and the values of those set now,
    which the spec carries as their defaults."""
    from tfx.orchestration import data_types
    from tfx.utils import proto_utils

    from pipelines.storage import Storage, push_destination

    serving = config.given_value("serving_model_dir")
    given = {"tfds_data_dir": config.given_value("tfds_data_dir"),
             "tfds_manual_dir": config.given_value("tfds_manual_dir"),
             "serving_model_dir": (proto_utils.proto_to_json(push_destination(serving))
                                   if serving else None)}
    storage = Storage(
        pipeline_root=config.given_value("pipeline_root") or "",
        **{("push_destination" if option == "serving_model_dir" else option):
           data_types.RuntimeParameter(name=RUN_PARAMETERS[option], ptype=str)
           for option in RUN_PARAMETERS},
    )
    defaults = {RUN_PARAMETERS[option]: value for option, value in given.items() if value}
    return storage, defaults


def compile_pipeline(config: configs.PipelineConfig, output_dir: str | Path | None = None) -> str:
    """Writes the KFP v2 pipeline spec of `create_pipeline(config)`; returns its path. An unset
    pipeline name is the default one made valid for KFP."""
    name = kfp_pipeline_name(config)
    check_for_kubeflow(config, name)
    config = config.with_options(pipeline_name=name)
    from tfx.orchestration.kubeflow.v2 import kubeflow_v2_dag_runner

    from pipelines.pipeline import create_pipeline

    runner = kubeflow_v2_dag_runner.KubeflowV2DagRunner(
        # Pipeline spec 2.1: what KFP 2.x and Vertex AI hand the container (typed
        # `parameterValues`, and the inputs spec the entrypoint needs to read them).
        config=kubeflow_v2_dag_runner.KubeflowV2DagRunnerConfig(
            default_image=config.kfp_image, use_pipeline_spec_2_1=True),
    )
    storage, defaults = run_parameters(config)
    pipeline = create_pipeline(config, local_metadata=False, storage=storage)
    job = runner.run(pipeline, parameter_values=defaults, write_out=False)
    # TFX puts the values only into this job's runtime config; as `defaultValue`s KFP shows
    # them in its run form and uses them for runs submitted without them.
    for name_, value in defaults.items():
        job["pipelineSpec"]["root"]["inputDefinitions"]["parameters"][name_][
            "defaultValue"] = value
    output_dir = str(output_dir or BUILD_DIR)
    os.makedirs(output_dir, exist_ok=True)
    path = os.path.join(output_dir, f"{name}.json")
    with open(path, "w") as f:
        json.dump(job, f, indent=2, sort_keys=True)
    return path


def run_arguments(storage: Mapping[str, str]) -> dict[str, str]:
    """The compiled pipeline's parameters for the storage {option: URI or directory}."""
    from tfx.utils import proto_utils  # light: no TensorFlow

    from pipelines.storage import push_destination

    arguments = {RUN_PARAMETERS[option]: storage[option] for option in RUN_PARAMETERS}
    arguments["push_destination"] = proto_utils.proto_to_json(
        push_destination(storage["serving_model_dir"]))
    return arguments


def spec_parameters(path: str) -> dict[str, str | None]:
    """{storage option: its default in a spec `compile_pipeline` wrote, or None}."""
    with open(path) as f:
        job = json.load(f)
    inputs = job["pipelineSpec"].get("root", {}).get("inputDefinitions", {}).get("parameters", {})
    found = {"pipeline_root": job.get("runtimeConfig", {}).get("gcsOutputDirectory") or None}
    for option, parameter in RUN_PARAMETERS.items():
        found[option] = inputs.get(parameter, {}).get("defaultValue")
    if found["serving_model_dir"]:  # the Pusher's PushDestination as JSON
        filesystem = json.loads(found["serving_model_dir"]).get("filesystem", {})
        found["serving_model_dir"] = (filesystem.get("base_directory")
                                      or filesystem.get("baseDirectory"))
    return found


def main(argv: Sequence[str] | None = None) -> None:
    prog = "kfp-compile"
    argv = sys.argv[1:] if argv is None else argv
    config = entrypoint.load_config_or_exit(
        prog, argv, "Compile the pipeline for Kubeflow Pipelines v2.")
    name = kfp_pipeline_name(config)
    # The TFDS files are the cluster's to have (the ExampleGen checks them there).
    entrypoint.check_data_and_model_or_exit(prog, config, available=False)
    try:
        check_for_kubeflow(config, name)
        path = compile_pipeline(config)
    except configs.SettingsError as error:
        entrypoint.fail(prog, str(error))
    unset = [configs.option_name(option) for option, value in spec_parameters(path).items()
             if not value]
    print(f"Wrote {path}: pipeline {name}, image {config.kfp_image}")
    if name != config.pipeline_name:
        print(f"  PIPELINE_NAME unset: {config.pipeline_name!r} became {name!r} (Kubeflow "
              "needs [a-z0-9-]).")
    if unset:
        print(f"  To give when submitting a run (`make kfp-deploy`): {', '.join(unset)}.")


if __name__ == "__main__":
    main()
