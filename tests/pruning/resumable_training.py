"""A training process for the checkpoint tests: prunes the tiny model for 3 epochs with `fit`,
checkpointing every epoch; `--kill-after-epoch N` makes it SIGKILL itself right after epoch N's
checkpoint, like a preempted worker. `--announce` prints `SAVING n` just before epoch n's
checkpoint is written and `SAVED n` after it, for a test that kills it from outside;
`--slow-save N` prints `WRITTEN N` once epoch N's checkpoint files are on disk, then waits before
the `checkpoint` state file names them, so a kill lands inside that write. Ops run
deterministically, so every run, resumed or not, ends with the same weights. It reports
the optimizer state it saw, and at the end each pruned kernel's sparsity and a digest of every
weight, to a JSON file.

    python -m tests.pruning.resumable_training --checkpoint-dir D --report R [--kill-after-epoch 1]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import signal
import time

import tensorflow as tf
import tf_keras as keras
from tensorflow.python.checkpoint import checkpoint_management

from pruning.sparsity import loops, measure, wrap
from pruning.training import checkpoint
from tests.pruning.helpers import EPOCHS, STEPS_PER_EPOCH, params, tiny_data, tiny_model


def optimizer_state(optimizer) -> dict:
    """Iterations and a digest of every optimizer variable (Adam's moments included)."""
    return {
        "iterations": int(optimizer.iterations.numpy()),
        "variables": {
            v.name: hashlib.sha256(v.numpy().tobytes()).hexdigest() for v in optimizer.variables
        },
    }


class KillAfter(keras.callbacks.Callback):
    def __init__(self, epoch: int, report: dict, path: str):
        super().__init__()
        self.epoch, self.report, self.path = epoch, report, path

    def on_epoch_end(self, epoch, logs=None):
        if epoch + 1 == self.epoch:
            self.report["saved"] = optimizer_state(self.model.optimizer)
            with open(self.path, "w") as f:
                json.dump(self.report, f)
            os.kill(os.getpid(), signal.SIGKILL)


class Announce(keras.callbacks.Callback):
    """Runs before SaveEveryEpoch in the callback list: `SAVING n`, then after it `SAVED n`."""

    def __init__(self, before: bool):
        super().__init__()
        self.word = "SAVING" if before else "SAVED"

    def on_epoch_end(self, epoch, logs=None):
        print(f"{self.word} {epoch + 1}", flush=True)


def slow_state_write(epoch: int, seconds: float) -> None:
    """CheckpointManager writes a checkpoint's files, then the state file naming them: for
    epoch `epoch`'s checkpoint, announce the first and wait before the second."""
    write_state = checkpoint_management.update_checkpoint_state_internal

    def update_checkpoint_state_internal(*args, **kwargs):
        path = kwargs.get("model_checkpoint_path") or args[1]
        if path.rsplit("-", 1)[-1] == str(epoch):
            print(f"WRITTEN {epoch}", flush=True)
            time.sleep(seconds)
        return write_state(*args, **kwargs)

    checkpoint_management.update_checkpoint_state_internal = update_checkpoint_state_internal


def weights_digest(model) -> str:
    digest = hashlib.sha256()
    for weight in model.get_weights():
        digest.update(weight.tobytes())
    return digest.hexdigest()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--checkpoint-dir", required=True)
    parser.add_argument("--report", required=True)
    parser.add_argument("--kill-after-epoch", type=int, default=0)
    parser.add_argument("--announce", action="store_true")
    parser.add_argument("--slow-save", type=int, default=0, metavar="EPOCH")
    args = parser.parse_args()
    tf.config.experimental.enable_op_determinism()
    if args.slow_save:
        slow_state_write(args.slow_save, 60)

    model = wrap.apply_pruning(tiny_model(), params())
    optimizer = keras.optimizers.Adam(1e-3)
    model.compile(optimizer, keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    saver = checkpoint.TrainingCheckpoint(args.checkpoint_dir, model, optimizer)
    start_epoch = saver.restore_latest()
    report = {"start_epoch": start_epoch, "restored": optimizer_state(optimizer)}
    callbacks = [checkpoint.SaveEveryEpoch(saver)]
    if args.announce:
        callbacks = [Announce(before=True), *callbacks, Announce(before=False)]
    if args.kill_after_epoch:
        callbacks.append(KillAfter(args.kill_after_epoch, report, args.report))
    loops.fit_with_pruning(model, tiny_data(), epochs=EPOCHS, steps_per_epoch=STEPS_PER_EPOCH,
                           initial_epoch=start_epoch, callbacks=callbacks)
    report["final"] = optimizer_state(optimizer)
    stripped = wrap.strip_pruning(model)
    report["weights"] = weights_digest(stripped)
    kernels = [layer.name for layer in stripped.layers
               if getattr(layer, "kernel", None) is not None]
    report["sparsity"] = measure.measure_sparsity(stripped, kernels).to_dict()["layers"]
    with open(args.report, "w") as f:
        json.dump(report, f)


if __name__ == "__main__":
    main()
