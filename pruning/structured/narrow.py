"""`narrow`: a model without a fraction of each channel group, and what it kept.

The contract that defines a correct result (tests/pruning/test_structured.py tests it on graphs
this code was not written around): every narrowed kernel is the original kernel at the kept
indices (`Narrowed.kept`); biases, batch-normalization scales, shifts and moving statistics
follow their channels; and the narrowed model computes what the original computes once every
kernel's input rows that were not kept are set to zero.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import numpy as np
import tf_keras as keras

from pruning.structured import rules
from pruning.structured.graph import ChannelGraph, Group, SparsityError, analyze
from pruning.structured.importance import Importance, folded_norm
from pruning.structured.rebuild import rebuild

Sparsity = float | Mapping[str, float]


@dataclasses.dataclass(frozen=True)
class Kept:
    """What one layer's kernel keeps of the original's: `inputs`, the indices along the kernel's
    input axis (a Dense kernel's rows, flattened indices where a Flatten feeds it; axis 2 of a
    Conv2D or DepthwiseConv2D kernel), `outputs` along its output axis (None for a depthwise
    kernel). None where nothing was removed."""

    inputs: np.ndarray | None
    outputs: np.ndarray | None


@dataclasses.dataclass(frozen=True)
class Narrowed:
    """`model`: the narrowed model. `kept[name]` for every layer with a kernel. `groups`: the
    channel groups found, with how many channels each kept (`Group.describe`). `channels[name]`
    for every layer: the indices it kept of each input's and output's channels."""

    model: keras.Model
    kept: dict[str, Kept]
    groups: tuple[Group, ...]
    channels: dict[str, rules.LayerKept] = dataclasses.field(repr=False)
    graph: ChannelGraph = dataclasses.field(repr=False)

    def group_of(self, name: str) -> Group:
        """The group holding layer `name`'s outputs, with how many channels it kept."""
        return self.groups[self.graph.group_of_layer(name).index]

    def summary(self) -> str:
        """One line per group: which layers, how wide, how many kept (or why left whole)."""
        return "\n".join(group.describe() for group in self.groups)

    @property
    def widths(self) -> dict[str, int]:
        """{layer: its output channels} of each kernel layer that lost some."""
        return {name: len(kept.outputs) for name, kept in self.kept.items()
                if kept.outputs is not None}


def group_fractions(graph: ChannelGraph, sparsity: Sparsity) -> dict[int, float]:
    """{group index: the fraction of its channels to remove}. A float applies to every group
    that can lose channels; a mapping {layer name: fraction} to the group holding that layer's
    outputs. SparsityError names a fraction outside [0, 1), a layer that is not there or whose
    group is fixed, and two fractions for one group."""
    if isinstance(sparsity, Mapping):
        fractions: dict[int, float] = {}
        named: dict[int, str] = {}
        for name, fraction in sparsity.items():
            _check_fraction(fraction, f"{name}:{fraction}")
            group = graph.group_of_layer(name)
            if not group.prunable:
                raise SparsityError(f"Layer {name!r} cannot lose channels: {group.fixed} "
                                    f"(its group: {group.describe()}); layers that can: "
                                    f"{', '.join(graph.prunable_layers()) or 'none'}")
            if group.index in fractions and fractions[group.index] != fraction:
                raise SparsityError(
                    f"Layers {named[group.index]!r} and {name!r} share one channel group "
                    f"({group.describe()}) but are given {fractions[group.index]} and "
                    f"{fraction}: give the group one fraction")
            fractions[group.index], named[group.index] = float(fraction), name
        return fractions
    _check_fraction(sparsity, sparsity)
    return {group.index: float(sparsity) for group in graph.groups if group.prunable}


def _check_fraction(fraction, shown) -> None:
    if isinstance(fraction, bool) or not isinstance(fraction, int | float) or not (
            0 <= fraction < 1):
        raise SparsityError(f"A fraction of channels to remove must be in [0, 1), got {shown!r}")


def kept_count(width: int, fraction: float) -> int:
    """Channels a group of `width` keeps when it loses `fraction` of them: at least one."""
    return max(width - round(width * fraction), 1)


def keep_channels(graph: ChannelGraph, fractions: Mapping[int, float],
                  scores: np.ndarray, allowed: np.ndarray | None = None) -> np.ndarray:
    """A boolean per channel id: within each group of `fractions`, the highest-scoring
    `kept_count` channels stay (ties: the first); every other channel stays. `allowed`: a
    boolean per channel, False for channels already removed, which never come back."""
    keep = np.ones(len(scores), bool)
    for index, fraction in fractions.items():
        group = graph.groups[index]
        channels = group.channels
        count = kept_count(group.width, fraction)
        order = np.argsort(-np.asarray(scores[channels], np.float64), kind="stable")
        if allowed is not None:  # removed ones last, so they stay removed
            order = order[np.argsort(~allowed[channels][order], kind="stable")]
        keep[channels] = False
        keep[channels[order[:count]]] = True
        if allowed is not None:
            keep[channels] &= allowed[channels]
    return _every_layer_keeps_one(graph, keep, scores)


def _every_layer_keeps_one(graph: ChannelGraph, keep: np.ndarray,
                           scores: np.ndarray) -> np.ndarray:
    """`keep`, with the best channel of any layer output that would keep none (a branch of a
    concatenation whose group lost that branch's every channel) kept after all."""
    for record in graph.records.values():
        for atoms in record.outputs:
            channels = graph.channels(atoms)
            if len(channels) and not keep[channels].any():
                keep[channels[np.argmax(scores[channels])]] = True
    return keep


def narrowed_model(graph: ChannelGraph, keep: np.ndarray) -> Narrowed:
    """The model of `graph` keeping the channels `keep` says (a boolean per channel id)."""
    for group in graph.groups:
        if not group.prunable and not keep[group.channels].all():
            raise SparsityError(f"Group {group.describe()} cannot lose channels")
    model, kept = rebuild(graph, keep)
    report = {}
    for key, record in graph.records.items():
        layer = record.layer
        if getattr(layer, "kernel", None) is None and getattr(
                layer, "depthwise_kernel", None) is None:
            continue
        layer_kept = kept[key]
        inputs = outputs = None
        if isinstance(record.rule, rules.Kernel | rules.Depthwise):
            if len(layer_kept.inputs[0]) != layer_kept.input_widths[0]:
                inputs = layer_kept.inputs[0]
            if (isinstance(record.rule, rules.Kernel)
                    and len(layer_kept.outputs[0]) != layer_kept.output_widths[0]):
                outputs = layer_kept.outputs[0]
        report[record.name] = Kept(inputs, outputs)
    groups = tuple(dataclasses.replace(group, kept=int(keep[group.channels].sum()))
                   for group in graph.groups)
    channels = {record.name: kept[key] for key, record in graph.records.items()}
    return Narrowed(model, report, groups, channels, graph)


def narrow(model: keras.Model, sparsity: Sparsity, *,
           importance: Importance = folded_norm) -> Narrowed:
    """`model` without `sparsity` of each channel group's channels, chosen by `importance`.

    `sparsity`: a float (every group that can lose channels loses that fraction, at least one
    channel kept) or {layer name: fraction} for the group holding that layer's outputs. The
    model itself is not changed. Raises an `UnsupportedGraphError` (a ValueError) naming the
    layer or the value at fault, before anything is built.
    """
    graph = analyze(model)
    fractions = group_fractions(graph, sparsity)
    scores = np.asarray(importance(graph), np.float64)
    return narrowed_model(graph, keep_channels(graph, fractions, scores))
