"""Runs the pipeline in this process with TFX's LocalDagRunner.

    python -m pipelines.local_runner [--dataset mnist] [--example-limit N] [--help]
    tfx pipeline create --engine local --pipeline_path pipelines/local_runner.py
"""

from tfx.orchestration.local.local_dag_runner import LocalDagRunner  # = tfx.v1's, lighter

from pipelines import cli


def main(argv=None) -> None:
    cli.run(LocalDagRunner(), argv, description=__doc__)


if __name__ == "__main__":
    main()
