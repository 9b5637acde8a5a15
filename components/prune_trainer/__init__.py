"""PruneTrainer: the Keras pruning API as a TFX component, resumable after a kill."""

from components.prune_trainer.component import PruneTrainer
from components.prune_trainer.spec import PruningCheckpoint

__all__ = ["PruneTrainer", "PruningCheckpoint"]
