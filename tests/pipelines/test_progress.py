"""ComponentProgress on TFX's records (the real runner's lines: test_pipeline_e2e.py)."""

from __future__ import annotations

import io
import logging

from pipelines import progress


def _record(msg: str, *args) -> logging.LogRecord:
    return logging.LogRecord("absl", logging.INFO, __file__, 1, msg, args, None)


def test_a_node_run_and_a_cached_node_get_their_lines_with_their_seconds():
    out, now = io.StringIO(), iter([10.0, 22.5, 30.0, 30.1])
    handler = progress.ComponentProgress(["A", "B"], out, clock=lambda: next(now))
    for record in (_record(progress.RUNNING, "A"), _record("Training model."),
                   _record(progress.FINISHED, "A"), _record(progress.RUNNING, "B"),
                   _record(progress.CACHED, 7), _record(progress.FINISHED, "B")):
        handler.emit(record)
    assert out.getvalue().splitlines() == [
        "pipeline: [1/2] A started", "pipeline: [1/2] A done in 12.5 s",
        "pipeline: [2/2] B started", "pipeline: [2/2] B cached (0.1 s)"]
