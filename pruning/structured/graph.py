"""The coupled channel groups of a Keras model, found from its graph (the layers' inbound nodes).

`analyze(model)` walks every call of every layer in the order Keras runs them, nested models
included, and traces each tensor's channels as atoms (`rules`): a rule passes atoms through,
makes new ones, or couples them. Atoms that must stand or fall together (an addition's operands,
every call of one layer) are merged into one *channel*; channels that one layer makes together
(a convolution's filters, with whatever they are coupled to) form a *group*, whose channels are
removed as one unit: a fraction of a group's channels is what structured pruning removes. A
group is fixed (left whole) when any of its channels reaches the model's input or output, or a
layer no rule sees through.

Never from layer names: the graph decides. Channels-first models are refused, naming the layer.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence

import numpy as np
import tf_keras as keras

from pruning.structured import rules
from pruning.structured.rules import Atoms, UnsupportedGraphError, describe


class ChannelsFirstError(UnsupportedGraphError):
    """A layer computes on channels-first tensors: the analysis handles channels-last only."""


@dataclasses.dataclass
class LayerRecord:
    """One layer of the model (nested models' layers included) and its channels: the atoms of
    its first call's inputs and outputs (later calls are coupled to the first)."""

    layer: keras.layers.Layer
    rule: rules.ChannelRule
    name: str  # unique in the model: a nested model's layer is 'inner/name' when names clash
    inputs: list[Atoms]
    outputs: list[Atoms]
    input_ranks: list[int]


@dataclasses.dataclass(frozen=True)
class Group:
    """Channels removed together: `width` of them, made by `producers` (layers whose kernels
    compute them), read by `consumers` (layers whose kernels take them in), through every layer
    in `layers`. `fixed` says why the group cannot lose a channel (None: it can)."""

    index: int
    producers: tuple[str, ...]
    consumers: tuple[str, ...]
    layers: tuple[str, ...]
    width: int
    fixed: str | None
    channels: np.ndarray = dataclasses.field(repr=False, compare=False)  # their channel ids
    kept: int | None = None  # after narrowing: how many of the channels stayed

    @property
    def prunable(self) -> bool:
        return self.fixed is None

    def describe(self) -> str:
        """'conv1 -> conv2, dense1: 32 channels, 8 kept' (or why it is left whole)."""
        made, read = ", ".join(self.producers) or "-", ", ".join(self.consumers) or "-"
        if self.fixed:
            state = f"left whole: {self.fixed}"
        else:
            state = "prunable" if self.kept is None else f"{self.kept} kept"
        return f"{made} -> {read}: {self.width} channels, {state}"


class ChannelGraph:
    """The traced model: its layers' channels and the groups they form (`analyze`)."""

    def __init__(self, model: keras.Model):
        self.model = model
        self.records: dict[int, LayerRecord] = {}  # id(layer) -> record, in call order
        self._parent: list[int] = []
        self._fixed: list[tuple[Atoms, str]] = []
        self._made: list[Atoms] = []  # the atoms each layer (or the input) made together
        self.output_atoms: list[Atoms] = []

    # -- the Tracer the rules use -------------------------------------------------------
    def new_atoms(self, count: int, *, fixed: str | None = None) -> Atoms:
        start = len(self._parent)
        atoms = np.arange(start, start + count, dtype=np.int64)
        self._parent.extend(range(start, start + count))
        if fixed:
            self._fixed.append((atoms, fixed))
        self._made.append(atoms)
        return atoms

    def couple(self, first: Atoms, second: Atoms) -> None:
        if len(first) != len(second):
            raise UnsupportedGraphError(f"Cannot couple {len(first)} channels with "
                                        f"{len(second)}")
        for a, b in zip(first.tolist(), second.tolist(), strict=True):
            root_a, root_b = self._find(a), self._find(b)
            if root_a != root_b:
                self._parent[max(root_a, root_b)] = min(root_a, root_b)

    def fix(self, atoms: Atoms, reason: str) -> None:
        self._fixed.append((np.asarray(atoms, np.int64), reason))

    def _find(self, atom: int) -> int:
        parent = self._parent
        root = atom
        while parent[root] != root:
            root = parent[root]
        while parent[atom] != root:
            parent[atom], atom = root, parent[atom]
        return root

    # -- after the walk -----------------------------------------------------------------
    def finish(self) -> None:
        """Channels (merged atoms) and groups, once every call has been traced."""
        roots = np.array([self._find(a) for a in range(len(self._parent))], np.int64)
        _, self.channel_of = np.unique(roots, return_inverse=True)  # atom -> channel id
        channels = int(self.channel_of.max()) + 1 if len(roots) else 0
        # Groups: the channels one layer made together, and whatever those are coupled to.
        group_parent = list(range(channels))

        def find(c: int) -> int:
            while group_parent[c] != c:
                group_parent[c] = group_parent[group_parent[c]]
                c = group_parent[c]
            return c

        for atoms in self._made:
            ids = np.unique(self.channel_of[atoms])
            first = find(int(ids[0])) if len(ids) else None
            for channel in ids[1:].tolist():
                root = find(channel)
                if root != first:
                    group_parent[max(root, first)] = min(root, first)
                    first = min(root, first)
        group_roots = np.array([find(c) for c in range(channels)], np.int64)
        _, self.group_of = np.unique(group_roots, return_inverse=True)  # channel -> group
        fixed: dict[int, str] = {}
        for atoms, reason in self._fixed:
            for group in np.unique(self.group_of[self.channel_of[atoms]]).tolist():
                fixed.setdefault(group, reason)
        self.groups = self._make_groups(fixed)

    def _make_groups(self, fixed: dict[int, str]) -> tuple[Group, ...]:
        count = int(self.group_of.max()) + 1 if len(self.group_of) else 0
        # A group's channels in the order their first atoms were made (a producer's columns).
        first_atom = np.full(len(self.group_of), np.iinfo(np.int64).max)
        np.minimum.at(first_atom, self.channel_of, np.arange(len(self.channel_of)))
        members: dict[int, dict[str, list[str]]] = {
            g: {"producers": [], "consumers": [], "layers": []} for g in range(count)}
        for record in self.records.values():
            if isinstance(record.layer, keras.Model):
                continue  # its own layers are listed
            kernel = isinstance(record.rule, rules.Kernel)
            for role, tensors in (("consumers", record.inputs), ("producers", record.outputs)):
                for atoms in tensors:
                    for group in np.unique(self.group_of[self.channel_of[atoms]]).tolist():
                        lists = members[group]
                        if record.name not in lists["layers"]:
                            lists["layers"].append(record.name)
                        if kernel and record.name not in lists[role]:
                            lists[role].append(record.name)
        groups = []
        for g in range(count):
            channels = np.flatnonzero(self.group_of == g)
            channels = channels[np.argsort(first_atom[channels], kind="stable")]
            groups.append(Group(g, tuple(members[g]["producers"]),
                                tuple(members[g]["consumers"]), tuple(members[g]["layers"]),
                                len(channels), fixed.get(g), channels))
        return tuple(groups)

    def channels(self, atoms: Atoms) -> np.ndarray:
        """The channel id of each atom."""
        return self.channel_of[atoms]

    def record(self, name: str) -> LayerRecord:
        for record in self.records.values():
            if record.name == name:
                return record
        raise KeyError(name)

    def group_of_layer(self, name: str) -> Group:
        """The group holding the output channels of layer `name` (ValueError when the layer is
        not in the model, or its outputs span several groups, as a concatenation's do)."""
        try:
            record = self.record(name)
        except KeyError:
            raise UnknownLayerError(
                f"Layer {name!r} is not in model {self.model.name!r}; its layers that can lose "
                f"channels: {', '.join(self.prunable_layers()) or 'none'}") from None
        ids = {int(g) for atoms in record.outputs
               for g in np.unique(self.group_of[self.channel_of[atoms]])}
        if len(ids) != 1:
            raise UnknownLayerError(f"Layer {describe(record.layer)}'s outputs span "
                                    f"{len(ids)} channel groups; name a layer of one of them")
        return self.groups[ids.pop()]

    def prunable_layers(self) -> list[str]:
        """The producers of every group that can lose channels, in model order."""
        names = {name for group in self.groups if group.prunable for name in group.producers}
        return [record.name for record in self.records.values() if record.name in names]


class SparsityError(UnsupportedGraphError):
    """A sparsity structured pruning cannot apply: a fraction out of range, a layer that is not
    there or whose group cannot lose channels (it says why), two fractions for one group."""


class UnknownLayerError(SparsityError):
    """A layer name that names no layer, or no single group, of the model."""


def _check_graph_network(model: keras.Model) -> None:
    if not getattr(model, "_is_graph_network", False):
        raise UnsupportedGraphError(
            f"Model {model.name!r} ({type(model).__name__}) is subclassed: it has no graph of "
            "layers to analyse; build it with the Functional or Sequential API")


def _channels_first(layer: keras.layers.Layer) -> bool:
    return getattr(layer, "data_format", None) == "channels_first"


def _shapes(tensors) -> list[tuple]:
    return [tuple(t.shape) for t in tensors]


class _Walk:
    """Traces one model's calls (and, recursively, its nested models') into a ChannelGraph."""

    def __init__(self, graph: ChannelGraph):
        self.graph = graph
        self.names: dict[str, int] = {}

    def model(self, model: keras.Model, inputs: Sequence[Atoms], prefix: str) -> list[Atoms]:
        _check_graph_network(model)
        atoms: dict[str, Atoms] = {}
        for tensor, value in zip(model.inputs, inputs, strict=True):
            atoms[str(id(tensor))] = value
        for node in _nodes_in_order(model):
            if node.is_input:
                continue
            layer = node.layer
            inputs_of_node = [atoms[str(id(t))] for t in node.keras_inputs]
            outputs = self.call(layer, inputs_of_node, node, prefix)
            for tensor, value in zip(node.flat_output_ids, outputs, strict=True):
                atoms[tensor] = value
        return [atoms[str(id(t))] for t in model.outputs]

    def call(self, layer, inputs: list[Atoms], node, prefix: str) -> list[Atoms]:
        if _channels_first(layer):
            raise ChannelsFirstError(
                f"Layer {describe(layer)} computes on channels-first tensors (data_format="
                "'channels_first'); structured pruning handles channels-last models only")
        input_shapes = _shapes(node.keras_inputs)
        output_shapes = _shapes(_flat(node.outputs))
        widths = [shape[-1] if shape else 1 for shape in output_shapes]
        if any(width is None for width in widths) or any(s and s[-1] is None
                                                         for s in input_shapes):
            raise UnsupportedGraphError(f"Layer {describe(layer)} has a tensor of unknown "
                                        "channels; give the model's input a full shape")
        record = self.graph.records.get(id(layer))
        if isinstance(layer, keras.Model):
            outputs = self.model(layer, inputs, f"{prefix}{layer.name}/")
            rule = rules.ChannelRule()  # its own layers carry the rules
        else:
            ranks = [len(s) for s in input_shapes]
            rule = record.rule if record else rules.rule_for(layer)
            if not rule.accepts(layer, inputs, ranks, widths):
                rule = rules.ChannelRule()  # this layer, called so, is opaque
            outputs = rule.trace(self.graph, layer, inputs, ranks, widths)
        if record is None:
            self.graph.records[id(layer)] = LayerRecord(
                layer, rule, self._name(layer, prefix), list(inputs), list(outputs),
                [len(s) for s in input_shapes])
        else:  # a later call of the same layer: its weights and config serve both
            for first, later in zip(record.inputs, inputs, strict=True):
                self.graph.couple(first, later)
            if not isinstance(layer, keras.Model):
                for first, later in zip(record.outputs, outputs, strict=True):
                    self.graph.couple(first, later)
        return outputs

    def _name(self, layer, prefix: str) -> str:
        name = layer.name if layer.name not in self.names else prefix + layer.name
        self.names[name] = id(layer)
        return name


def _flat(outputs) -> list:
    import tensorflow as tf

    return tf.nest.flatten(outputs)


def _nodes_in_order(model: keras.Model) -> Iterator:
    """The model's nodes in the order Keras runs them (deepest first)."""
    for depth in sorted(model._nodes_by_depth, reverse=True):
        yield from model._nodes_by_depth[depth]


def analyze(model: keras.Model) -> ChannelGraph:
    """The model's channel groups (module docstring). Raises an `UnsupportedGraphError`
    (a ValueError) naming the layer when the model is subclassed or channels-first."""
    _check_graph_network(model)
    graph = ChannelGraph(model)
    inputs = []
    for tensor in model.inputs:
        width = tensor.shape[-1] if tensor.shape.rank else 1
        if width is None:
            raise UnsupportedGraphError(f"Model {model.name!r}'s input has unknown channels")
        inputs.append(graph.new_atoms(int(width), fixed="they are the model's input"))
    outputs = _Walk(graph).model(model, inputs, "")
    for atoms in outputs:
        graph.fix(atoms, "they are the model's output")
    graph.output_atoms = outputs
    graph.finish()
    return graph
