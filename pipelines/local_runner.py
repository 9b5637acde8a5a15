"""Runs the pipeline in this process with TFX's LocalDagRunner.

    python -m pipelines.local_runner [--dataset mnist] [--example-limit N] [--help]
    tfx pipeline create --engine local --pipeline_path pipelines/local_runner.py
"""

from pipelines import entrypoint


def local_dag_runner():
    from tfx.orchestration.local.local_dag_runner import LocalDagRunner  # = tfx.v1's, lighter

    return LocalDagRunner()


def main(argv=None) -> None:
    entrypoint.run(local_dag_runner, argv, description=__doc__, prog="pipelines.local_runner")


if __name__ == "__main__":
    main()
