"""A run fetches nothing: Beam's local runner is named (FnApiRunner), not chosen by the
DirectRunner, which first tries PrismRunner and so downloads Prism's binary at run time."""

from __future__ import annotations

import apache_beam as beam
from apache_beam.testing.util import assert_that, equal_to

from pipelines import configs
from tests.support import network_guard


def _squares(beam_args: list[str]) -> list[str]:
    with network_guard() as attempts, beam.Pipeline(argv=beam_args) as pipeline:
        squares = pipeline | beam.Create([1, 2, 3]) | beam.Map(lambda x: x * x)
        assert_that(squares, equal_to([1, 4, 9]))
    return attempts


def test_the_default_beam_args_run_without_the_network():
    assert _squares(configs.load_config([], environ={}).beam_pipeline_args) == []


def test_the_guard_sees_the_direct_runner_reach_for_prism():
    attempts = _squares(["--runner=DirectRunner"])
    assert attempts, "the DirectRunner fetched nothing: the guard would not see a download"
