"""How much each channel matters: the score structured pruning keeps the highest of.

`folded_norm`, the default: the L2 norm of each producer's filter (a kernel's output column) as
the deployed file computes it, with a batch normalization right after the kernel folded in
(|gamma| / sqrt(moving variance + epsilon)) and the layer's own per-output scale (ScaledDense's),
summed over every producer of the channel (the operands of a residual addition add up).

An importance is any function of a `ChannelGraph` giving one score per channel id
(`graph.channel_of.max() + 1` of them); the channels of a group are `group.channels`.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from pruning.structured import rules
from pruning.structured.graph import ChannelGraph

Importance = Callable[[ChannelGraph], np.ndarray]


def _bn_factor(layer) -> np.ndarray:
    variance = layer.moving_variance.numpy()
    factor = 1.0 / np.sqrt(variance + layer.epsilon)
    if layer.scale:
        factor = factor * np.abs(layer.gamma.numpy())
    return factor


def folded_norm(graph: ChannelGraph) -> np.ndarray:
    """One score per channel id (module docstring)."""
    channels = int(graph.channel_of.max()) + 1
    # A batch normalization whose input is a kernel's own output (through pass-through layers
    # only, which hand the same atoms on) folds into that kernel.
    folds = {}
    by_outputs = {id(record.outputs[0]): record for record in graph.records.values()
                  if isinstance(record.rule, rules.Kernel) and record.outputs}
    for record in graph.records.values():
        if isinstance(record.rule, rules.BatchNormalization) and record.inputs:
            producer = by_outputs.get(id(record.inputs[0]))
            if producer is not None and len(record.layer.moving_variance.shape) == 1:
                folds.setdefault(id(producer.layer), _bn_factor(record.layer))
    scores = np.zeros(channels)
    for record in graph.records.values():
        if not isinstance(record.rule, rules.Kernel):
            continue
        kernel = record.layer.kernel.numpy()
        norms = np.sqrt(np.sum(kernel.reshape(-1, kernel.shape[-1]).astype(np.float64) ** 2, 0))
        scale = record.rule.output_scale(record.layer)
        if scale is not None:
            norms = norms * scale
        if id(record.layer) in folds:
            norms = norms * folds[id(record.layer)]
        scores += np.bincount(graph.channels(record.outputs[0]), weights=norms,
                              minlength=channels)
    return scores
