"""Training resumes from its checkpoint after a SIGKILL, with the optimizer state restored: killed
by itself after a checkpoint, or from outside in the middle of an epoch or of a checkpoint's
write, to the same pruned model as a run never killed."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
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


# --- killed from outside: a separate process sends SIGKILL -------------------------------------


def _announcing_run(tmp_path, *extra) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.pruning.resumable_training", "--announce", *extra,
         "--checkpoint-dir", str(tmp_path / "ckpt"), "--report", str(tmp_path / "report.json")],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)


def _kill_when(process: subprocess.Popen, line: str, delay_s: float = 0.0) -> None:
    """SIGKILL from this process once `process` printed `line` (then `delay_s` later)."""
    for printed in process.stdout:
        if printed.strip() == line:
            break
    else:
        raise AssertionError(f"the run ended before printing {line!r}")
    if delay_s:
        time.sleep(delay_s)
    process.send_signal(signal.SIGKILL)
    assert process.wait(timeout=60) == -signal.SIGKILL


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory) -> dict:
    """The reference: a run never killed."""
    directory = tmp_path_factory.mktemp("uninterrupted")
    done = run_training(directory)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads((directory / "report.json").read_text())


def _assert_same_model(resumed: dict, uninterrupted: dict) -> None:
    assert resumed["final"]["iterations"] == 3 * STEPS_PER_EPOCH
    assert resumed["sparsity"] == uninterrupted["sparsity"]  # every layer, zero for zero
    assert resumed["weights"] == uninterrupted["weights"]  # bit for bit


def test_two_uninterrupted_runs_end_bit_identical(tmp_path, uninterrupted):
    """What makes the comparisons below exact: the runs are deterministic."""
    done = run_training(tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads((tmp_path / "report.json").read_text())["weights"] == (
        uninterrupted["weights"])


def test_killed_from_outside_mid_epoch_resumes_to_the_same_model(tmp_path, uninterrupted):
    process = _announcing_run(tmp_path)
    _kill_when(process, "SAVED 1", delay_s=0.01)  # inside epoch 2 of 3
    resumed = run_training(tmp_path)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["start_epoch"] == 1  # epoch 2 was lost with the process, epoch 1 kept
    assert report["restored"]["iterations"] == STEPS_PER_EPOCH
    _assert_same_model(report, uninterrupted)


def test_killed_while_saving_resumes_from_the_last_whole_checkpoint(tmp_path, uninterrupted):
    process = _announcing_run(tmp_path, "--slow-save", "2")
    _kill_when(process, "WRITTEN 2")  # epoch 2's files are written, the state file not yet
    ckpt = tmp_path / "ckpt"
    assert list(ckpt.glob("ckpt-2.index"))  # the kill landed inside the write
    assert checkpoint.latest_in(str(ckpt)).endswith("ckpt-1")
    resumed = run_training(tmp_path)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["start_epoch"] == 1  # the unrecorded epoch 2 is done again, not half-loaded
    assert report["restored"]["iterations"] == STEPS_PER_EPOCH
    _assert_same_model(report, uninterrupted)


def test_a_half_written_checkpoint_is_never_loaded(tmp_path, uninterrupted):
    """What a kill in the middle of writing epoch 2's files leaves: parts of `ckpt-2.*` on
    disk, the `checkpoint` state file still naming ckpt-1 (it is replaced last, atomically)."""
    killed = run_training(tmp_path, "--kill-after-epoch", "1")
    assert killed.returncode == -signal.SIGKILL
    ckpt = tmp_path / "ckpt"
    for whole in sorted(ckpt.glob("ckpt-1.*")):
        content = whole.read_bytes()
        (ckpt / whole.name.replace("ckpt-1", "ckpt-2")).write_bytes(content[:len(content) // 2])
    resumed = run_training(tmp_path)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["start_epoch"] == 1 and report["restored"]["iterations"] == STEPS_PER_EPOCH
    _assert_same_model(report, uninterrupted)
