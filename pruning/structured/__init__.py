"""Structured pruning of any Keras model: the coupled channel groups of its graph, narrowed.

Plain `tf_keras`, no TFX. What Torch-Pruning's dependency graph does for PyTorch, for Keras:

    from pruning import structured

    result = structured.narrow(model, 0.5)            # every prunable group loses half
    result = structured.narrow(model, {"conv2": 0.5})  # the group holding conv2's outputs
    print(result.summary())                           # the groups: layers, widths, kept
    result.model                                       # a new, narrower Keras model
    result.kept["conv2"].inputs, result.kept["conv2"].outputs  # the kernel's kept indices

The groups come from the graph (`analyze`), through the layer types the rules know (`rules`;
`register_rule` adds one's own); a layer no rule sees through leaves the groups it touches
whole. See pruning/README.md, "Structured pruning of any Keras model".
"""

from pruning.structured.graph import (
    ChannelGraph,
    ChannelsFirstError,
    Group,
    SparsityError,
    UnknownLayerError,
    UnsupportedGraphError,
    analyze,
)
from pruning.structured.importance import Importance, folded_norm
from pruning.structured.narrow import (
    Kept,
    Narrowed,
    Sparsity,
    group_fractions,
    keep_channels,
    kept_count,
    narrow,
    narrowed_model,
)
from pruning.structured.rules import (
    ChannelRule,
    Kernel,
    LayerKept,
    Opaque,
    PassThrough,
    PerChannel,
    register_rule,
    rule_for,
)

__all__ = [
    "ChannelGraph", "ChannelRule", "ChannelsFirstError", "Group", "Importance", "Kept", "Kernel",
    "LayerKept", "Narrowed", "Opaque", "PassThrough", "PerChannel", "Sparsity", "SparsityError",
    "UnknownLayerError", "UnsupportedGraphError", "analyze", "folded_norm", "group_fractions",
    "keep_channels", "kept_count", "narrow", "narrowed_model", "register_rule", "rule_for",
]
