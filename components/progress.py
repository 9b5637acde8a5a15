"""The PruneTrainer's progress line, one per epoch: the format its executor logs and `make
faults` waits for before it kills the component (no imports: the fault driver stays light)."""

from __future__ import annotations

# A phase is the checkpoint directory prune_model trains it in (pruning/sparsity/prune.py).
FILTERS_PHASE, WEIGHTS_PHASE = "filters", "weights"


def epoch_done(phase: str, epoch: int, epochs: int) -> str:
    """'PruneTrainer: weights epoch 3/30 done' (epochs counted from 1)."""
    return f"{epoch_started_prefix(phase, epoch)}{epochs} done"


def epoch_started_prefix(phase: str, epoch: int) -> str:
    """What every `epoch_done` line of that epoch starts with, whatever the epoch count."""
    return f"PruneTrainer: {phase} epoch {epoch}/"
