"""Runs the pipeline in this process with TFX's LocalDagRunner.

    python -m pipelines.local_runner [--dataset mnist] [--example-limit N] [--help]
    tfx pipeline create --engine local --pipeline_path pipelines/local_runner.py
"""

from tfx import v1 as tfx

from pipelines import cli


def main(argv=None) -> None:
    cli.run(tfx.orchestration.LocalDagRunner(), argv, description=__doc__)


if __name__ == "__main__":
    main()
