"""Compiles the same `create_pipeline()` for Kubeflow Pipelines v2 (also Vertex AI Pipelines).

    python -m kubeflow.runner --pipeline-root gs://B/root --tfds-data-dir gs://B/tfds \\
        --tfds-manual-dir gs://B/manual/mnist --serving-model-dir gs://B/serving \\
        --kfp-image REGISTRY/tfx-pruning-pipeline:TAG [--beam-args '...']
    make kfp-compile PIPELINE_ROOT=gs://... TFDS_DATA_DIR=gs://... ...

Writes kubeflow/build/<pipeline name>.json with TFX's KubeflowV2DagRunner. Every option is the
local pipeline's (pipelines/configs.py); the storage options must be remote URIs the cluster's
pods can reach (gs://, s3://, or MinIO through s3://).
"""

from __future__ import annotations

import dataclasses
import os
import re
import sys
from collections.abc import Sequence
from pathlib import Path

from tfx.orchestration.kubeflow.v2 import kubeflow_v2_dag_runner

from pipelines import configs
from pipelines.pipeline import create_pipeline

BUILD_DIR = Path(__file__).resolve().parent / "build"
# Options naming storage: a path on the compiling machine means nothing inside a pod.
REMOTE_OPTIONS = ("pipeline_root", "tfds_data_dir", "tfds_manual_dir", "serving_model_dir")
REMOTE_SCHEMES = ("gs://", "s3://", "hdfs://", "abfs://", "az://")
KFP_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,127}")  # what KFP v2 accepts as a pipeline name


def check_for_kubeflow(config: configs.PipelineConfig) -> None:
    """ValueError naming a pipeline name KFP refuses and every storage option that is not a
    remote URI."""
    if not KFP_NAME.fullmatch(config.pipeline_name):
        raise ValueError(
            f"PIPELINE_NAME={config.pipeline_name!r}: Kubeflow Pipelines v2 needs lower-case "
            "letters, digits and '-' (e.g. mnist-pruning)")
    if config.prune_warm_start:
        raise ValueError(
            "PRUNE_WARM_START=true needs a Resolver with a custom strategy, which TFX's Kubeflow "
            "v2 compiler does not support (only LatestArtifactStrategy and "
            "LatestBlessedModelStrategy): run warm starts locally")
    env_names = {f.name: f.metadata["env"] for f in dataclasses.fields(config)}
    bad = [f"{env_names[name]}={getattr(config, name) or '(unset)'}"
           for name in REMOTE_OPTIONS
           if not (getattr(config, name) or "").startswith(REMOTE_SCHEMES)]
    if bad:
        raise ValueError(
            "Kubeflow steps run in pods: these options must be remote URIs "
            f"({', '.join(REMOTE_SCHEMES)}): {', '.join(bad)}")


def compile_pipeline(config: configs.PipelineConfig, output_dir: str | Path = BUILD_DIR) -> str:
    """Writes the KFP v2 pipeline spec of `create_pipeline(config)`; returns its path."""
    check_for_kubeflow(config)
    os.makedirs(output_dir, exist_ok=True)
    filename = f"{config.pipeline_name}.json"
    runner = kubeflow_v2_dag_runner.KubeflowV2DagRunner(
        # Pipeline spec 2.1: what KFP 2.x and Vertex AI hand the container (typed
        # `parameterValues`, and the inputs spec the entrypoint needs to read them).
        config=kubeflow_v2_dag_runner.KubeflowV2DagRunnerConfig(
            default_image=config.kfp_image, use_pipeline_spec_2_1=True),
        output_dir=str(output_dir),
        output_filename=filename,
    )
    runner.run(create_pipeline(config, local_metadata=False), write_out=True)
    return os.path.join(str(output_dir), filename)


def main(argv: Sequence[str] | None = None) -> None:
    config = configs.load_config(
        sys.argv[1:] if argv is None else argv,
        description="Compile the pipeline for Kubeflow Pipelines v2.")
    try:
        path = compile_pipeline(config)
    except ValueError as error:
        raise SystemExit(f"kfp-compile: {error}") from None
    print(f"Wrote {path} (image {config.kfp_image})")


if __name__ == "__main__":
    main()
