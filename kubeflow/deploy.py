"""Uploads the compiled pipeline to Kubeflow Pipelines and starts a run.

    python -m kubeflow.deploy --endpoint https://KFP_HOST [--spec kubeflow/build/mnist-pruning.json]
        [--namespace NS] [--experiment NAME] [--run-name NAME]
        [--pipeline-root gs://B/p] [--tfds-data-dir gs://B/t] [--tfds-manual-dir gs://B/m]
        [--serving-model-dir gs://B/s]
    make kfp-deploy ENDPOINT=https://KFP_HOST PIPELINE_ROOT=gs://B/p TFDS_DATA_DIR=gs://B/t \
        TFDS_MANUAL_DIR=gs://B/m SERVING_MODEL_DIR=gs://B/s [NAMESPACE=...] [EXPERIMENT=...]

The storage options are the run's parameters (kubeflow/runner.py): each one not given here takes
the default the spec carries, if it has one; any left without a value stops the deploy before
anything is sent, with one line naming all of them. The first upload creates the pipeline; later
ones add a version to it. Prints the run's URL. Authentication: what `kfp.Client` reads
(in-cluster service account token, `KF_PIPELINES_*` environment variables, or a port-forward to
the ml-pipeline-ui service: no credentials).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence

from kubeflow import runner
from pipelines import configs

HEALTHZ = "/apis/v2beta1/healthz"


class DeployError(Exception):
    """A problem the user can fix: printed as one line."""


def check_reachable(endpoint: str, timeout: float = 10.0) -> None:
    """DeployError naming the endpoint unless its KFP API answers within `timeout` seconds."""
    url = endpoint.rstrip("/") + HEALTHZ
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            response.read()
    except urllib.error.HTTPError as error:
        if error.code not in (401, 403):  # an auth wall still proves the service is there
            raise DeployError(f"Kubeflow Pipelines at {endpoint} answered {error.code} for "
                              f"{HEALTHZ}: is this the pipelines API endpoint?") from None
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise DeployError(f"Cannot reach Kubeflow Pipelines at {endpoint}: {reason}") from None


def read_spec(path: str) -> str:
    """The pipeline name inside a compiled spec; DeployError if the file is not one."""
    try:
        with open(path) as f:
            job = json.load(f)
        return job["pipelineSpec"]["pipelineInfo"]["name"]
    except FileNotFoundError:
        raise DeployError(f"No compiled pipeline at {path}: run `make kfp-compile` first") from None
    except (json.JSONDecodeError, KeyError, TypeError):
        raise DeployError(f"{path} is not a compiled KFP pipeline spec (JSON)") from None


def run_values(spec: str, given: Mapping[str, str | None]) -> tuple[str, dict[str, str]]:
    """(pipeline root, pipeline parameters) of the run: the storage options given, else the
    spec's defaults. DeployError naming every option left unset or not a remote URI."""
    values = {option: given.get(option) or default
              for option, default in runner.spec_parameters(spec).items()}
    missing = [configs.option_name(option) for option, value in values.items() if not value]
    problems = runner.remote_uri_problems(values)
    parts = []
    if missing:
        parts.append(f"set {', '.join(missing)}: the spec {spec} has no default for them")
    if problems:
        parts.append(f"not {' or '.join(runner.REMOTE_SCHEMES)} URIs: {', '.join(problems)}")
    if parts:
        raise DeployError("; ".join(parts) + " (the run's storage: URIs the cluster's pods "
                          "can reach)")
    return values["pipeline_root"], runner.run_arguments(values)


def deploy(endpoint: str, spec: str, namespace: str | None, experiment: str,
           run_name: str | None, storage: Mapping[str, str | None] | None = None) -> str:
    """Uploads `spec` (as a new pipeline or a new version of it), starts a run; its URL."""
    name = read_spec(spec)
    pipeline_root, parameters = run_values(spec, storage or {})
    check_reachable(endpoint)
    import kfp  # here: importing it takes a second the error paths above do not need

    client = kfp.Client(host=endpoint, namespace=namespace)
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%d-%H%M%S")
    pipeline_id = client.get_pipeline_id(name)
    if pipeline_id is None:
        pipeline_id = client.upload_pipeline(spec, pipeline_name=name).pipeline_id
        # The upload made the pipeline's first version; a run names pipeline and version.
        versions = client.list_pipeline_versions(pipeline_id, page_size=1,
                                                 sort_by="created_at desc").pipeline_versions
        if not versions:
            raise DeployError(f"Kubeflow Pipelines listed no version of pipeline {pipeline_id}")
        version_id = versions[0].pipeline_version_id
    else:
        version_id = client.upload_pipeline_version(
            spec, pipeline_version_name=f"{name}-{stamp}", pipeline_id=pipeline_id
        ).pipeline_version_id
    experiment_id = client.create_experiment(experiment, namespace=namespace).experiment_id
    run = client.run_pipeline(
        experiment_id=experiment_id, job_name=run_name or f"{name}-{stamp}",
        pipeline_id=pipeline_id, version_id=version_id, params=parameters,
        pipeline_root=pipeline_root)
    return f"{endpoint.rstrip('/')}/#/runs/details/{run.run_id}"


def default_spec(environ: Mapping[str, str] = os.environ) -> str:
    """The file `make kfp-compile` writes with the same variables."""
    names = {configs.OPTIONS[n].env for n in ("pipeline_name", "dataset")}
    config = configs.load_config([], environ={k: v for k, v in environ.items() if k in names})
    return str(runner.BUILD_DIR / f"{runner.kfp_pipeline_name(config)}.json")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--endpoint", required=True,
                        help="Kubeflow Pipelines API/UI URL, e.g. http://localhost:8080")
    parser.add_argument("--spec", help="compiled pipeline (default: what `make kfp-compile` "
                                        "wrote for PIPELINE_NAME / DATASET)")
    parser.add_argument("--namespace", help="Kubeflow profile namespace (multi-user clusters)")
    parser.add_argument("--experiment", default="mnist-pruning",
                        help="experiment to file the run under (created if missing)")
    parser.add_argument("--run-name", help="default: <pipeline>-<UTC timestamp>")
    storage = parser.add_argument_group(
        "the run's storage (default: the variable, else the spec's default)")
    for option in runner.STORAGE_OPTIONS:
        declared = configs.OPTIONS[option]
        storage.add_argument(declared.flag, dest=option,
                             default=os.environ.get(declared.env) or None,
                             metavar=declared.env, help=declared.help)
    args = parser.parse_args(argv)
    try:
        spec = args.spec or default_spec()
        url = deploy(args.endpoint, spec, args.namespace, args.experiment, args.run_name,
                     {option: getattr(args, option) for option in runner.STORAGE_OPTIONS})
    except DeployError as error:
        print(f"kfp-deploy: error: {error}", file=sys.stderr)
        return 2
    print(f"Run started: {url}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
