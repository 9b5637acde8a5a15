"""PruneTrainer parameters shared by its tests and their subprocess."""

from __future__ import annotations

from tfx.types import Channel, standard_artifacts

from components.prune_trainer import PruneTrainer
from pruning.params import PruningParams, TrainingParams

EPOCHS = 3
BATCH = 32  # 96 train examples: 3 steps per epoch
STEPS_PER_EPOCH = 3
PRUNING = PruningParams(initial_sparsity=0.3, final_sparsity=0.8, frequency=1,
                        layer_sparsity=(("dense1", 0.9),))
TRAINING = TrainingParams(epochs=EPOCHS, batch_size=BATCH, learning_rate=1e-3)


def make_component(**overrides) -> PruneTrainer:
    args = dict(
        examples=Channel(type=standard_artifacts.Examples),
        schema=Channel(type=standard_artifacts.Schema),
        base_model=Channel(type=standard_artifacts.Model),
        pruning=PRUNING,
        training=TRAINING,
    )
    return PruneTrainer(**{**args, **overrides})


def component_exec_properties(**overrides) -> dict:
    """The exec_properties the launcher hands the executor: protos as JSON strings."""
    from tfx.utils import proto_utils

    properties = dict(make_component(**overrides).exec_properties)
    return {
        key: proto_utils.proto_to_json(value) if hasattr(value, "DESCRIPTOR") else value
        for key, value in properties.items()
    }
