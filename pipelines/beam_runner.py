"""Runs the pipeline with TFX's BeamDagRunner: each component is a step of a Beam pipeline.

    python -m pipelines.beam_runner [--dataset mnist] [--example-limit N] [--help]
"""

from tfx.orchestration.beam.beam_dag_runner import BeamDagRunner

from pipelines import cli


def main(argv=None) -> None:
    cli.run(BeamDagRunner(), argv, description=__doc__)


if __name__ == "__main__":
    main()
