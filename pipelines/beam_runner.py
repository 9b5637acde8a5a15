"""Runs the pipeline with TFX's BeamDagRunner: each component is a step of a Beam pipeline.

    python -m pipelines.beam_runner [--dataset mnist] [--example-limit N] [--help]
"""

from pipelines import entrypoint


def beam_dag_runner():
    from tfx.orchestration.beam.beam_dag_runner import BeamDagRunner

    return BeamDagRunner()


def main(argv=None) -> None:
    entrypoint.run(beam_dag_runner, argv, description=__doc__, prog="pipelines.beam_runner")


if __name__ == "__main__":
    main()
