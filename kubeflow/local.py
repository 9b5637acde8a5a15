"""The compiled pipeline run end to end on this machine's Docker by KFP's own local engine.

    make kfp-local [EXAMPLE_LIMIT=2000 TRAIN_EPOCHS=1 ...]   (any option of `make run`)
    python -m kubeflow.local [--example-limit 2000 ...]

Compiles `create_pipeline()` as `make kfp-compile` does, the storage left as run parameters, then
hands the spec to `kfp.local` with its DockerRunner: every task runs in its own container of
`KFP_IMAGE` (`make kfp-image`), in DAG order, with the executor input and placeholders KFP
resolves, the artifacts passed between tasks on local disk. The storage is local directories,
each mounted into every container at its own path:

    PIPELINE_ROOT      default build/kfp-local/<name>   KFP's pipeline root: every artifact
    TFDS_DATA_DIR      default <root>/tensorflow_datasets
    TFDS_MANUAL_DIR    default ../shared/data/<dataset>, mounted read-only
    SERVING_MODEL_DIR  default <root>/serving

The containers have no network and run as the image's unprivileged user. `kfp.local` records no
ML Metadata (a cluster's Kubeflow Pipelines does): the result is read from the run's files.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence

from components import properties
from kubeflow import image, runner
from pipelines import configs, entrypoint, nodes

BUILD_DIR = configs.BUILD_DIR / "kfp-local"
READ_ONLY = ("tfds_manual_dir",)


@dataclasses.dataclass(frozen=True)
class TaskResult:
    task: str
    state: str  # kfp.local's status name: SUCCESS or FAILURE
    seconds: float


@dataclasses.dataclass(frozen=True)
class LocalRun:
    pipeline: str
    run_dir: str  # <root>/<pipeline>-<timestamp>: one directory per task
    tasks: tuple[TaskResult, ...]

    @property
    def succeeded(self) -> bool:
        return bool(self.tasks) and all(t.state == "SUCCESS" for t in self.tasks)

    def task_dir(self, task: str) -> str:
        return os.path.join(self.run_dir, task)

    def outputs(self, task: str) -> dict[str, dict]:
        """{output key: the RuntimeArtifact (JSON) the task's executor wrote}."""
        with open(os.path.join(self.task_dir(task), "executor_output.json")) as f:
            artifacts = json.load(f).get("artifacts", {})
        return {key: value["artifacts"][0] for key, value in artifacts.items()}

    def report(self) -> dict:
        """The CompressExporter's report.json."""
        from pruning.compression import documents  # matplotlib: only once a run is read

        uri = self.outputs(nodes.REPORT.node)[nodes.REPORT.key]["uri"]
        with open(os.path.join(uri, documents.REPORT_JSON)) as f:
            return json.load(f)

    def pushed_model(self) -> str | None:
        """Where the Pusher copied the blessed model; None when it did not push."""
        pushed = self.outputs(nodes.PUSHED_MODEL.node).get(nodes.PUSHED_MODEL.key, {})
        metadata = pushed.get("metadata", {})
        return (metadata.get(properties.PUSHED_DESTINATION) if metadata.get(properties.PUSHED)
                else None)


def local_storage(config: configs.PipelineConfig, name: str) -> dict[str, str]:
    """{storage option: absolute local directory}; SettingsError naming every option that is a
    URI (the local engine mounts directories) and a manual_dir that is not there."""
    root = config.given_value("pipeline_root") or str(BUILD_DIR / name)
    storage = {
        "pipeline_root": root,
        "tfds_data_dir": (config.given_value("tfds_data_dir")
                          or os.path.join(root, "tensorflow_datasets")),
        "tfds_manual_dir": config.tfds_manual_dir or "",
        "serving_model_dir": (config.given_value("serving_model_dir")
                              or os.path.join(root, "serving")),
    }
    uris = [f"{configs.OPTIONS[option].env}={value}"
            for option, value in storage.items() if "://" in value]
    problems = []
    if uris:
        problems.append("kfp-local mounts local directories into its containers, so storage "
                        f"must be local paths: {', '.join(uris)} (for a bucket: make kfp-deploy)")
    manual = storage["tfds_manual_dir"]
    if not uris and not (manual and os.path.isdir(manual)):
        problems.append(f"{configs.option_name('tfds_manual_dir')} must name the directory with "
                        f"the dataset's four files (found none at {manual or 'its default'})")
    if problems:
        raise configs.SettingsError("; ".join(problems))
    return {option: os.path.abspath(value) for option, value in storage.items()}


def make_writable_for(user: tuple[int, int] | None, storage: Mapping[str, str]) -> None:
    """Creates the directories the steps write and, run as root, gives them to the image's user
    (as a cluster's volume is given to the pod's user): the steps never run as root."""
    for option, path in storage.items():
        if option in READ_ONLY:
            continue
        os.makedirs(path, exist_ok=True)
        if user is not None and os.geteuid() == 0:
            os.chown(path, *user)


# kfp.local (kfp 2.16.1) assumes specs written by KFP's own compiler. TFX's compiler differs in
# two ways the local engine trips on; `kfp_local_fixes` mends each in the function that makes
# the assumption, and tests/kubeflow/test_local_engine.py fails once kfp stops making it.
# 1. Artifact types: TFX gives each as an `instanceSchema` (its `title` is e.g. tfx.Examples).
#    kfp.local turns a task's outputs into `dsl.Artifact`s, which keep only a `schemaTitle`, and
#    back into the next task's RuntimeArtifacts as `system.Artifact`: TFX's entrypoint then
#    cannot import the type. The fix carries each RuntimeArtifact's own type across.
# 2. Task directories: kfp.local cuts `comp-` (5 characters) off every component name, which
#    TFX does not prefix (`Evaluator` became `ator`). The fix cuts the prefix only where it is.
@contextlib.contextmanager
def kfp_local_fixes() -> Iterator[None]:
    from kfp.dsl import utils as dsl_utils
    from kfp.local import executor_input_utils, executor_output_utils
    from kfp.pipeline_spec import pipeline_spec_pb2

    to_dsl = executor_output_utils.runtime_artifact_to_dsl_artifact
    to_list = executor_input_utils.dsl_artifact_to_artifact_list
    task_name = executor_input_utils.get_local_task_resource_name

    def runtime_artifact_to_dsl_artifact(runtime_artifact):
        artifact = to_dsl(runtime_artifact)
        artifact._runtime_type = pipeline_spec_pb2.ArtifactTypeSchema()
        artifact._runtime_type.CopyFrom(runtime_artifact.type)
        return artifact

    def dsl_artifact_to_artifact_list(artifact):
        artifact_list = to_list(artifact)
        kept = getattr(artifact, "_runtime_type", None)
        if kept is not None:
            artifact_list.artifacts[0].type.CopyFrom(kept)
        return artifact_list

    def get_local_task_resource_name(component_name: str) -> str:
        prefix = dsl_utils.COMPONENT_NAME_PREFIX
        return task_name(component_name) if component_name.startswith(prefix) else component_name

    patches = [(executor_output_utils, "runtime_artifact_to_dsl_artifact",
                runtime_artifact_to_dsl_artifact),
               (executor_input_utils, "dsl_artifact_to_artifact_list",
                dsl_artifact_to_artifact_list),
               (executor_input_utils, "get_local_task_resource_name",
                get_local_task_resource_name)]
    originals = [(module, name, getattr(module, name)) for module, name, _ in patches]
    try:
        for module, name, replacement in patches:
            setattr(module, name, replacement)
        yield
    finally:
        for module, name, original in originals:
            setattr(module, name, original)


@contextlib.contextmanager
def recorded_tasks(results: list[TaskResult]) -> Iterator[None]:
    """Appends each task kfp.local dispatches, with its status and time, to `results`."""
    from kfp.local import executor_input_utils, task_dispatcher

    dispatch = task_dispatcher.run_single_task_implementation

    def run_single_task_implementation(*args, **kwargs):
        started = time.monotonic()
        outputs, status = dispatch(*args, **kwargs)
        task = executor_input_utils.get_local_task_resource_name(kwargs["component_name"])
        results.append(TaskResult(task, status.name, time.monotonic() - started))
        return outputs, status

    task_dispatcher.run_single_task_implementation = run_single_task_implementation
    try:
        yield
    finally:
        task_dispatcher.run_single_task_implementation = dispatch


def run_compiled(spec_path: str, storage: Mapping[str, str], image_name: str,
                 user: tuple[int, int] | None = None) -> LocalRun:
    """Runs a spec `make kfp-compile` wrote through kfp.local's DockerRunner."""
    import docker
    from google.protobuf import json_format
    from kfp import local
    from kfp.local import pipeline_orchestrator
    from kfp.pipeline_spec import pipeline_spec_pb2

    with open(spec_path) as f:
        spec = json_format.ParseDict(json.load(f)["pipelineSpec"],
                                     pipeline_spec_pb2.PipelineSpec())
    mounts = [docker.types.Mount(target=path, source=path, type="bind",
                                 read_only=option in READ_ONLY)
              for option, path in storage.items() if option != "pipeline_root"
              and not path.startswith(storage["pipeline_root"] + os.sep)]
    # Not as root: the image's own user where we can give it the directories, else ours.
    as_user = {} if os.geteuid() == 0 else {"user": f"{os.getuid()}:{os.getgid()}"}
    local.init(runner=local.DockerRunner(network_mode="none", mounts=mounts, **as_user),
               pipeline_root=storage["pipeline_root"], raise_on_error=False)
    make_writable_for(user, storage)
    results: list[TaskResult] = []
    before = set(os.listdir(storage["pipeline_root"]))
    with kfp_local_fixes(), recorded_tasks(results):
        pipeline_orchestrator.run_local_pipeline(spec, runner.run_arguments(storage))
    name = spec.pipeline_info.name
    # kfp.local names the run's directory <pipeline>-<timestamp>; a first task that failed
    # before writing anything leaves none.
    new = sorted(d for d in set(os.listdir(storage["pipeline_root"])) - before
                 if d.startswith(f"{name}-"))
    run_dir = os.path.join(storage["pipeline_root"], new[-1]) if new else ""
    return LocalRun(name, run_dir, tuple(results))


def compile_for_local(config: configs.PipelineConfig, output_dir: str) -> str:
    """The spec a cluster gets (storage left to the run), written under `output_dir`."""
    return runner.compile_pipeline(without_storage(config), output_dir)


def without_storage(config: configs.PipelineConfig) -> configs.PipelineConfig:
    return config.with_options(**dict.fromkeys(runner.STORAGE_OPTIONS))


def format_run(run: LocalRun) -> str:
    total = sum(t.seconds for t in run.tasks)
    ok = sum(t.state == "SUCCESS" for t in run.tasks)
    lines = [f"Pipeline {run.pipeline}: {ok} of {len(run.tasks)} tasks succeeded in "
             f"{total:.0f} s (kfp.local, DockerRunner)"]
    width = max((len(t.task) for t in run.tasks), default=0)
    lines += [f"  {t.task:<{width}}  {t.state:<7}  {t.seconds:6.1f} s" for t in run.tasks]
    lines.append(f"Run directory: {run.run_dir}")
    if run.succeeded:
        report = run.report()
        summary = report["summary"]
        lines.append(f"Accuracy on {report['num_eval_examples']:,} eval examples: baseline "
                     f"{summary['baseline_accuracy']:.2%}, pruned {summary['pruned_accuracy']:.2%}"
                     f", pruned int8 TFLite {summary['int8_tflite_accuracy']:.2%}; int8 file "
                     f"{summary['raw_bytes_pruned_int8_tflite']:,} bytes")
        pushed = run.pushed_model()
        lines.append(f"Pushed model: {pushed}" if pushed else
                     "Pushed model: none (the Evaluator did not bless the model)")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    prog = "kfp-local"
    argv = sys.argv[1:] if argv is None else argv
    config = entrypoint.load_config_or_exit(
        prog, argv, "Run the compiled pipeline with KFP's local engine on this machine's Docker.")
    name = runner.kfp_pipeline_name(config)
    try:
        storage = local_storage(config, name)
        runner.check_for_kubeflow(without_storage(config), name)
        found = image.client(start=True)
        user = image.image_user(image.require_image(found, config.kfp_image))
    except (configs.SettingsError, image.DockerError) as error:
        entrypoint.fail(prog, str(error))
    except subprocess.CalledProcessError as error:  # scripts/dockerd.sh said why
        entrypoint.fail(prog, f"starting Docker's daemon failed (exit status {error.returncode})")
    spec = compile_for_local(config, os.path.join(storage["pipeline_root"], "spec"))
    print(f"Compiled {spec}; running it on {config.kfp_image}", flush=True)
    run = run_compiled(spec, storage, config.kfp_image, user)
    print("\n" + format_run(run))
    if not run.succeeded:
        failed = [t.task for t in run.tasks if t.state != "SUCCESS"]
        entrypoint.fail(prog, f"task {', '.join(failed) or '(none ran)'} failed: its log is "
                              "above", entrypoint.EXIT_RUN_FAILED)
    return 0


if __name__ == "__main__":
    sys.exit(main())
