"""One seed, the same model: `pruning.training.reproducible` and the trainers that call it."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from pruning.model import cnn
from pruning.params import ModelParams, TrainingParams
from pruning.training.baseline import make_baseline
from pruning.training.reproducible import seed_everything

# Dropout and augmentation on, TensorBoard logging: every random source and the callback that
# once made one seed give two models in one process.
SHAPE = ModelParams(width=8, dense_units=16, dropout=0.5)
TRAINING = TrainingParams(epochs=2, batch_size=32, learning_rate=0.01, augment=True, seed=3)


def _data(count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.random((count, 28, 28), dtype=np.float32), rng.integers(0, 10, size=count)


def _train(tmp_path, name: str, training: TrainingParams) -> list[np.ndarray]:
    result = make_baseline(lambda: cnn.build_model(params=SHAPE), training, _data(320, 0),
                           _data(64, 1), log_dir=str(tmp_path / name))
    return result.model.get_weights()


def test_one_seed_trains_the_same_weights_twice_in_one_process(tmp_path):
    first = _train(tmp_path, "first", TRAINING)
    second = _train(tmp_path, "second", TRAINING)
    assert all(np.array_equal(a, b) for a, b in zip(first, second, strict=True))
    other = _train(tmp_path, "other", dataclasses.replace(TRAINING, seed=4))
    assert not all(np.array_equal(a, b) for a, b in zip(first, other, strict=True))


@pytest.mark.parametrize("seed", [-1, 1.5, "0", True])
def test_a_seed_that_is_not_a_natural_number_is_refused(seed):
    with pytest.raises(ValueError, match=f"seed must be an int >= 0, got {seed!r}"):
        seed_everything(seed)
