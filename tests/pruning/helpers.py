"""Tiny model, data and pruning parameters shared by the pruning tests and their subprocess."""

from __future__ import annotations

import numpy as np
import tensorflow as tf
import tf_keras as keras

from pruning.model import cnn
from pruning.params import ModelParams, PruningParams

STEPS_PER_EPOCH = 10
EPOCHS = 3
ALL_PRUNABLE = ["conv1", "conv2", "conv3", "dense1", "logits"]


def tiny_model(keras_api: str = "functional") -> keras.Model:
    keras.utils.set_random_seed(0)
    return cnn.build_model(params=ModelParams(keras_api, width=8, dense_units=16,
                                              dropout=0.0))


def tiny_data() -> tf.data.Dataset:
    rng = np.random.default_rng(0)
    images = rng.random((160, 28, 28), dtype=np.float32)
    labels = rng.integers(0, 10, size=160)
    return tf.data.Dataset.from_tensor_slices((images, labels)).batch(16).repeat()


def params(**overrides) -> PruningParams:
    # Sparsity rises 0.2 -> 0.8 over the first 20 of 30 steps.
    defaults = dict(initial_sparsity=0.2, final_sparsity=0.8, begin_step=0, end_step=20,
                    frequency=5)
    return PruningParams(**{**defaults, **overrides})


def tflite_ops(content: bytes) -> list[tuple[str, tuple[int, ...]]]:
    """(op name, shape of its second input, e.g. a kernel) of each op of a TFLite file."""
    from ai_edge_litert import schema_py_generated as schema

    flatbuffer = schema.Model.GetRootAs(content, 0)
    graph = flatbuffer.Subgraphs(0)
    names = {code: name for name, code in vars(schema.BuiltinOperator).items()
             if not name.startswith("_")}
    ops = []
    for o in range(graph.OperatorsLength()):
        op = graph.Operators(o)
        code = flatbuffer.OperatorCodes(op.OpcodeIndex())
        second = (tuple(graph.Tensors(op.Inputs(1)).ShapeAsNumpy())
                  if op.InputsLength() > 1 else ())
        ops.append((names[max(code.BuiltinCode(), code.DeprecatedBuiltinCode())], second))
    return ops
