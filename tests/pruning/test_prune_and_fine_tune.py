"""`prune_and_fine_tune`: both loops, resuming an interrupted run, continuing another run."""

from __future__ import annotations

import numpy as np
import pytest

from pruning.params import PruningParams, TrainingParams
from pruning.sparsity.prune import prune_and_fine_tune
from pruning.training import checkpoint
from tests.pruning.helpers import tiny_model

NUM_IMAGES = 64
BATCH = 16
STEPS = NUM_IMAGES // BATCH  # per epoch
LAYER_TARGETS = (("dense1", 0.9), ("conv1", 0.5))


def images_and_labels() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.random((NUM_IMAGES, 28, 28), dtype=np.float32), rng.integers(0, 10, NUM_IMAGES)


def pruning_params(**overrides) -> PruningParams:
    values = dict(initial_sparsity=0.3, final_sparsity=0.7, frequency=1,
                  layer_sparsity=LAYER_TARGETS)
    return PruningParams(**{**values, **overrides})


def training(epochs: int = 3) -> TrainingParams:
    return TrainingParams(epochs=epochs, batch_size=BATCH, learning_rate=1e-3)


class Interrupt(Exception):
    pass


@pytest.mark.parametrize("loop", ["fit", "custom"])
def test_both_loops_reach_each_layers_target(tmp_path, loop):
    result = prune_and_fine_tune(tiny_model(), pruning_params(loop=loop), training(),
                                 *images_and_labels(), checkpoint_dir=str(tmp_path))

    layers = result.sparsity.to_dict()["layers"]
    assert layers["dense1"]["sparsity"] == pytest.approx(0.9, abs=0.01)
    assert layers["conv1"]["sparsity"] == pytest.approx(0.5, abs=0.01)
    assert layers["conv2"]["sparsity"] == pytest.approx(0.7, abs=0.01)
    assert int(result.optimizer.iterations.numpy()) == 3 * STEPS
    assert result.resumed_from_epoch == 0 and len(result.losses) == 3


def test_default_end_step_reaches_the_target_one_epoch_before_the_end():
    run = pruning_params().for_run(steps_per_epoch=STEPS, epochs=3)
    assert (run.begin_step, run.end_step) == (0, 2 * STEPS)
    shifted = pruning_params().for_run(steps_per_epoch=STEPS, epochs=3, start_step=100)
    assert (shifted.begin_step, shifted.end_step) == (100, 100 + 2 * STEPS)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"end_step": 13}, r"end_step must not be after the end of training \(12 steps = 3 "
         r"epochs x 4\): final_sparsity would never be reached, got 13"),
        ({"begin_step": 12}, r"begin_step must be before the end of training \(12 steps"),
    ],
)
def test_a_schedule_outside_the_run_is_rejected(overrides, message):
    with pytest.raises(ValueError, match=message):
        pruning_params(**overrides).for_run(steps_per_epoch=STEPS, epochs=3)


@pytest.mark.parametrize("loop", ["fit", "custom"])
def test_interrupted_run_resumes_after_its_last_checkpoint(tmp_path, loop):
    def fail_after_first_epoch(epoch: int, loss: float) -> None:
        if epoch == 0:
            raise Interrupt

    with pytest.raises(Interrupt):
        prune_and_fine_tune(tiny_model(), pruning_params(loop=loop), training(),
                            *images_and_labels(), checkpoint_dir=str(tmp_path),
                            on_epoch_end=fail_after_first_epoch)
    saved = checkpoint.latest_in(str(tmp_path))
    assert checkpoint.saved_value(saved, "epoch") == 1
    assert checkpoint.saved_value(saved, "iterations") == STEPS

    result = prune_and_fine_tune(tiny_model(), pruning_params(loop=loop), training(),
                                 *images_and_labels(), checkpoint_dir=str(tmp_path))
    assert result.resumed_from_epoch == 1
    assert len(result.losses) == 2  # epochs 2 and 3 only
    assert int(result.optimizer.iterations.numpy()) == 3 * STEPS  # not 4: nothing re-run
    assert result.sparsity.to_dict()["layers"]["dense1"]["sparsity"] == pytest.approx(0.9,
                                                                                     abs=0.01)


def test_warm_start_continues_another_runs_model_and_optimizer(tmp_path):
    first = prune_and_fine_tune(tiny_model(), pruning_params(), training(epochs=2),
                                *images_and_labels(), checkpoint_dir=str(tmp_path / "a"))
    exported = first.saver.export(str(tmp_path / "artifact"))

    # A new run towards a higher target, continuing from the first run's state.
    higher = pruning_params(layer_sparsity=(("dense1", 0.95), ("conv1", 0.5)))
    second = prune_and_fine_tune(tiny_model(), higher, training(epochs=2),
                                 *images_and_labels(), checkpoint_dir=str(tmp_path / "b"),
                                 warm_start=exported)
    assert second.start_step == 2 * STEPS
    assert int(second.optimizer.iterations.numpy()) == 4 * STEPS
    assert second.resumed_from_epoch == 0
    # The schedule was shifted to the restored step, so the new target is reached.
    assert second.sparsity.to_dict()["layers"]["dense1"]["sparsity"] == pytest.approx(0.95,
                                                                                      abs=0.01)


def test_warm_start_from_a_different_pruning_scope_is_a_clear_error(tmp_path):
    first = prune_and_fine_tune(tiny_model(), pruning_params(), training(epochs=1),
                                *images_and_labels(), checkpoint_dir=str(tmp_path / "a"))
    exported = first.saver.export(str(tmp_path / "artifact"))
    other_scope = PruningParams(layer_names=("dense1",), initial_sparsity=0.3,
                                final_sparsity=0.7, frequency=1)
    with pytest.raises(ValueError, match="does not match this model"):
        prune_and_fine_tune(tiny_model(), other_scope, training(epochs=1), *images_and_labels(),
                            checkpoint_dir=str(tmp_path / "b"), warm_start=exported)
