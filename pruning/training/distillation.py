"""Knowledge distillation: fine-tuning a pruned model towards what the unpruned one predicts.

The targets mix each image's one-hot label with the teacher's probabilities for it. A model whose
filters were removed keeps more of the teacher's accuracy this way than it does on the labels
alone (docs/design.md, "Distillation (`PRUNE_TEACHER_WEIGHT`)").
"""

from __future__ import annotations

import numpy as np
import tf_keras as keras

from pruning.model.outputs import probabilities


def soft_targets(teacher: keras.Model, images: np.ndarray, labels: np.ndarray,
                 teacher_weight: float, batch_size: int = 1000) -> np.ndarray:
    """[N, classes]: (1 - teacher_weight) * one-hot(label) + teacher_weight * the teacher's
    probabilities."""
    if not 0 <= teacher_weight <= 1:
        raise ValueError(f"teacher_weight must be in [0, 1], got {teacher_weight}")
    predicted = np.concatenate([
        probabilities(teacher, teacher(images[start:start + batch_size], training=False)).numpy()
        for start in range(0, len(images), batch_size)])
    one_hot = np.eye(predicted.shape[1], dtype=np.float32)[np.asarray(labels, np.int64)]
    return ((1 - teacher_weight) * one_hot + teacher_weight * predicted).astype(np.float32)
