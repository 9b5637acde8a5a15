"""Training resumes from its checkpoint after a SIGKILL, with the optimizer state restored."""

from __future__ import annotations

import json
import signal
import subprocess
import sys

import numpy as np
import tf_keras as keras

from pruning.sparsity import loops, wrap
from pruning.training import checkpoint
from tests.pruning.helpers import STEPS_PER_EPOCH, params, tiny_data, tiny_model


def run_training(tmp_path, *extra) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "tests.pruning.resumable_training",
         "--checkpoint-dir", str(tmp_path / "ckpt"), "--report", str(tmp_path / "report.json"),
         *extra],
        capture_output=True, text=True, timeout=600,
    )


def test_sigkilled_training_resumes_at_epoch_two_with_the_optimizer_state(tmp_path):
    killed = run_training(tmp_path, "--kill-after-epoch", "1")
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    first = json.loads((tmp_path / "report.json").read_text())
    assert first["start_epoch"] == 0
    assert first["saved"]["iterations"] == STEPS_PER_EPOCH

    resumed = run_training(tmp_path)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    second = json.loads((tmp_path / "report.json").read_text())
    assert second["start_epoch"] == 1  # epoch 2 of 3 (0-based 1) is next, not a restart
    # Iterations and every slot variable (Adam's m and v per weight) exactly as saved.
    assert second["restored"] == first["saved"]
    assert len(second["restored"]["variables"]) > 2
    assert second["final"]["iterations"] == 3 * STEPS_PER_EPOCH


def test_custom_loop_continues_from_a_checkpoint_of_another_run(tmp_path):
    """The warm-start path: a new model and optimizer continue an earlier run's checkpoint."""
    model = wrap.apply_pruning(tiny_model(), params())
    optimizer = keras.optimizers.Adam(1e-3)
    saver = checkpoint.TrainingCheckpoint(str(tmp_path / "run1"), model, optimizer)
    loops.train_custom_loop(
        model, optimizer, tiny_data(), epochs=1, steps_per_epoch=STEPS_PER_EPOCH,
        on_epoch_end=lambda epoch, _loss: saver.save(epoch + 1),
    )
    saved_weights = [w.copy() for w in model.get_weights()]
    saved_slots = [v.numpy().copy() for v in optimizer.variables]

    fresh_model = wrap.apply_pruning(tiny_model(), params())
    fresh_optimizer = keras.optimizers.Adam(1e-3)
    warm = checkpoint.TrainingCheckpoint(str(tmp_path / "run2"), fresh_model, fresh_optimizer)
    assert warm.restore_latest() == 0  # its own directory is empty
    assert warm.restore(saver.latest) == 1

    assert int(fresh_optimizer.iterations.numpy()) == STEPS_PER_EPOCH
    for restored, saved in zip(fresh_optimizer.variables, saved_slots, strict=True):
        np.testing.assert_array_equal(restored.numpy(), saved)
    for restored, saved in zip(fresh_model.get_weights(), saved_weights, strict=True):
        np.testing.assert_array_equal(restored, saved)
    loops.train_custom_loop(fresh_model, fresh_optimizer, tiny_data(), epochs=2, initial_epoch=1,
                            steps_per_epoch=STEPS_PER_EPOCH)
    assert int(fresh_optimizer.iterations.numpy()) == 2 * STEPS_PER_EPOCH
