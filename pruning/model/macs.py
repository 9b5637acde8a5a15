"""How much arithmetic a model does: multiply-accumulates (MACs) of one image, and parameters.

Counted from the Keras graph: every layer with a kernel (a dense layer, a convolution, a
depthwise convolution) does one multiply-accumulate per kernel weight at each position of its
output; the other layers' arithmetic (batch norm, activations, additions, pooling) is left out,
as MLPerf Tiny and Torch-Pruning's counters leave it out of a model's MACs. A layer called twice
counts twice; a nested model's layers count where it is called.
"""

from __future__ import annotations

import math

import tf_keras as keras


def _kernel_size(layer: keras.layers.Layer) -> int:
    kernel = getattr(layer, "kernel", None)
    if kernel is None:
        kernel = getattr(layer, "depthwise_kernel", None)
    return 0 if kernel is None else int(kernel.shape.num_elements())


def count_macs(model: keras.Model) -> int:
    """Multiply-accumulates of one forward pass of one image (module docstring)."""
    total = 0
    for depth in sorted(model._nodes_by_depth, reverse=True):
        for node in model._nodes_by_depth[depth]:
            layer = node.layer
            if isinstance(layer, keras.Model):
                total += count_macs(layer)
                continue
            size = _kernel_size(layer)
            if size:
                output = node.outputs if not isinstance(node.outputs, list) else node.outputs[0]
                positions = math.prod(int(d) for d in tuple(output.shape)[1:-1])
                total += positions * size
    return total
