"""The trainers' progress lines, one per epoch: the format their executors log, `make faults`
waits for before it kills the PruneTrainer, and `make bench` shows (standard library only:
the fault driver stays light)."""

from __future__ import annotations

import time

# A phase is the checkpoint directory prune_model trains it in (pruning/sparsity/prune.py).
FILTERS_PHASE, WEIGHTS_PHASE = "filters", "weights"


def epoch_done(phase: str, epoch: int, epochs: int) -> str:
    """'PruneTrainer: weights epoch 3/30 done' (epochs counted from 1)."""
    return f"{epoch_started_prefix(phase, epoch)}{epochs} done"


def epoch_started_prefix(phase: str, epoch: int) -> str:
    """What every `epoch_done` line of that epoch starts with, whatever the epoch count."""
    return f"PruneTrainer: {phase} epoch {epoch}/"


def trainer_epoch_done(epoch: int, epochs: int) -> str:
    """'Trainer: epoch 3/5 done' (epochs counted from 1)."""
    return f"Trainer: epoch {epoch}/{epochs} done"


class EpochClock:
    """Seconds since the previous call (the first: since it was made): an epoch's wall time."""

    def __init__(self, clock=time.monotonic):
        self._clock = clock
        self._last = self._clock()

    def lap(self) -> float:
        now = self._clock()
        seconds, self._last = now - self._last, now
        return seconds
