"""A local run's progress on stdout: one line when each component starts and one when it ends,
with its wall time, or that its outputs came from the cache.

    pipeline: [5/9] Trainer started
    pipeline: [5/9] Trainer done in 84.2 s
    pipeline: [5/9] Trainer cached (0.0 s)

TFX's LocalDagRunner has no hook for this, so a handler on its log reads the records it writes
for every node ('Component %s is running.', 'A cached execution %d is used.', 'Component %s is
finished.'); the end-to-end tests (tests/pipelines/test_pipeline_e2e.py) read these lines from
the real runner, so a TFX release that words them differently fails there. The trainers' epoch
lines are components/progress.py's.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable, Sequence
from typing import TextIO

PREFIX = "pipeline: "
RUNNING, CACHED, FINISHED = ("Component %s is running.", "A cached execution %d is used.",
                             "Component %s is finished.")


def started(index: int, count: int, node: str) -> str:
    return f"{PREFIX}[{index}/{count}] {node} started"


def finished(index: int, count: int, node: str, seconds: float, cached: bool) -> str:
    if cached:
        return f"{PREFIX}[{index}/{count}] {node} cached ({seconds:.1f} s)"
    return f"{PREFIX}[{index}/{count}] {node} done in {seconds:.1f} s"


class ComponentProgress(logging.Handler):
    """Writes `started` / `finished` lines for the nodes TFX's records name."""

    def __init__(self, nodes: Sequence[str], stream: TextIO | None = None,
                 clock: Callable[[], float] = time.monotonic):
        super().__init__(logging.INFO)
        self._index = {node: i for i, node in enumerate(nodes, 1)}
        self._stream, self._clock = stream, clock
        self._node: str | None = None
        self._started = 0.0
        self._cached = False

    def _write(self, line: str) -> None:
        stream = self._stream or sys.stdout
        stream.write(line + "\n")
        stream.flush()

    def emit(self, record: logging.LogRecord) -> None:
        if record.msg == RUNNING and record.args:
            self._node, self._started, self._cached = str(record.args[0]), self._clock(), False
            self._write(started(self._index.get(self._node, 0), len(self._index), self._node))
        elif record.msg == CACHED and self._node:
            self._cached = True
        elif record.msg == FINISHED and record.args and str(record.args[0]) == self._node:
            self._write(finished(self._index.get(self._node, 0), len(self._index), self._node,
                                 self._clock() - self._started, self._cached))
            self._node = None


def report_components(nodes: Sequence[str], stream: TextIO | None = None) -> ComponentProgress:
    """Attaches a ComponentProgress to the `absl` logger (TFX's); returns it.

    The level is set through absl's verbosity, not on the logger: TensorFlow silences absl
    while it lists a model's children (saving it) and then restores absl's verbosity, which
    would put a logger-level INFO back to absl's default, WARNING, and hide every record after
    the Trainer's."""
    from absl import logging as absl_logging

    absl_logging.set_verbosity(absl_logging.INFO)
    handler = ComponentProgress(nodes, stream)
    logging.getLogger("absl").addHandler(handler)
    return handler
