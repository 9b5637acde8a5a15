"""Questions asked of ML Metadata: runs, artifacts, an artifact's lineage, the run's figures.

Everything returns plain dataclasses / dicts (what `--json` prints); `render.py` formats them.
How TFX records a pipeline: `pipelines/metadata.py`. Artifacts are found by the node ids, output
keys and property names the pipeline itself uses (`pipelines/nodes.py`, `components/properties`).
"""

from __future__ import annotations

import dataclasses
import datetime

from ml_metadata.metadata_store import metadata_store
from ml_metadata.proto import metadata_store_pb2 as mlmd

from components import properties
from pipelines import nodes
from pipelines.lineage.store import LineageError
from pipelines.metadata import (
    NODE_CONTEXT,
    RUN_CONTEXT,
    execution_seconds,
    execution_state,
    newest_published,
    node_of,
    output_key,
    scalar_properties,
)
from pruning.compression import report

# Execution states of work not finished; such an execution of a superseded run is ABANDONED.
UNFINISHED = {"RUNNING", "NEW", "UNKNOWN"}
ABANDONED = "ABANDONED"
F = report.FIGURE
# The exporter's figures `compare` sets beside the models': the deployed file's accuracy,
# stored zeros, size, ratio and speed, and the micro file's.
COMPARE_FIGURES = (
    F.int8_tflite_accuracy, F.int8_tflite_sparsity, F.gzip_bytes_baseline_float_tflite,
    F.gzip_bytes_pruned_int8_tflite, F.compression_ratio, F.latency_ms_pruned_float,
    F.latency_ms_pruned_int8, F.flash_bytes_micro, F.arena_bytes_micro, F.micro_accuracy,
    F.micro_litert_agreement, F.latency_ms_micro_pruned)
# `latest:<name>` shortcuts: (the outputs it may be, a required property value or None). The
# Examples come from whichever ExampleGen the pipeline has: TFDS's or the user's files'.
SHORTCUTS = {
    "pushed": ((nodes.PUSHED_MODEL,), (properties.PUSHED, 1)),
    "tflite": ((nodes.COMPRESSED,), None),
    "model": ((nodes.PRUNED_MODEL,), None),
    "baseline": ((nodes.BASELINE_MODEL,), None),
    "report": ((nodes.REPORT,), None),
    "examples": ((nodes.EXAMPLES, nodes.IMPORTED_EXAMPLES), None),
}


def _time(milliseconds: int) -> str:
    return datetime.datetime.fromtimestamp(milliseconds / 1000, datetime.UTC).strftime(
        "%Y-%m-%d %H:%M:%S UTC")


@dataclasses.dataclass
class ArtifactInfo:
    id: int
    type: str
    uri: str
    state: str
    node: str  # the component that produced it
    output_key: str
    created: str
    properties: dict


@dataclasses.dataclass
class ExecutionInfo:
    id: int
    node: str
    type: str
    state: str
    started: str
    seconds: float
    properties: dict


@dataclasses.dataclass
class RunInfo:
    id: int
    name: str
    started: str
    state: str
    components: dict  # node id -> execution state


class Lineage:
    """Reads one store (or one pipeline's part of it: `pipeline`); caches types and the node of
    each execution."""

    def __init__(self, store: metadata_store.MetadataStore, pipeline: str | None = None):
        self.store = store
        self.pipeline = pipeline
        self.artifact_types = {t.id: t.name for t in store.get_artifact_types()}
        self.execution_node: dict[int, str] = {}
        self.execution_pipeline: dict[int, str] = {}
        for context in store.get_contexts_by_type(NODE_CONTEXT):
            owner, node = node_of(context)
            if pipeline is not None and owner != pipeline:
                continue
            for execution in store.get_executions_by_context(context.id):
                self.execution_node[execution.id] = node
                self.execution_pipeline[execution.id] = owner
        self._events: _Events | None = None
        self._producer: dict[int, tuple[int, str]] | None = None

    # --- runs -----------------------------------------------------------------------------
    def _runs_with_executions(self) -> list[tuple[mlmd.Context, list[mlmd.Execution]]]:
        """The runs, oldest first, each with its executions; with `pipeline`, only the runs
        that ran any of its nodes."""
        found = []
        for context in sorted(self.store.get_contexts_by_type(RUN_CONTEXT), key=lambda c: c.id):
            executions = sorted(self.store.get_executions_by_context(context.id),
                                key=lambda e: e.id)
            if self.pipeline is None or any(e.id in self.execution_node for e in executions):
                found.append((context, executions))
        return found

    def run_contexts(self) -> list[mlmd.Context]:
        """The runs, oldest first; with `pipeline`, those that ran any of its nodes."""
        if self.pipeline is None:
            return sorted(self.store.get_contexts_by_type(RUN_CONTEXT), key=lambda c: c.id)
        return [context for context, _ in self._runs_with_executions()]

    def runs(self) -> list[RunInfo]:
        """Each run with its executions' states. An execution left RUNNING (or NEW) by a run
        that a later run of the same pipeline followed is ABANDONED: its process was killed,
        since a local runner runs one pipeline run at a time and never comes back to it."""
        rows = []
        runs = self._runs_with_executions()
        newest_run = {}  # pipeline -> its newest run's context id
        for context, executions in runs:
            for execution in executions:
                owner = self.execution_pipeline.get(execution.id)
                if owner is not None:
                    newest_run[owner] = max(newest_run.get(owner, 0), context.id)
        for context, executions in runs:
            states = {}
            for e in executions:
                state = execution_state(e)
                owner = self.execution_pipeline.get(e.id)
                if state in UNFINISHED and newest_run.get(owner, context.id) > context.id:
                    state = ABANDONED
                states[self.execution_node.get(e.id, e.type)] = state
            values = set(states.values())
            if "FAILED" in values:
                state = "FAILED"
            elif ABANDONED in values:
                state = ABANDONED
            elif values & UNFINISHED:
                state = "RUNNING"
            elif values == {"CACHED"}:
                state = "CACHED"
            else:
                state = "COMPLETE" if values else "EMPTY"
            rows.append(RunInfo(context.id, context.name, _time(context.create_time_since_epoch),
                                state, states))
        return rows

    def run_context(self, run: str) -> mlmd.Context:
        """A run by name, by context id, or `latest`."""
        contexts = self.run_contexts()
        if not contexts:
            raise LineageError("The store holds no pipeline runs")
        if run == "latest":
            return contexts[-1]
        for context in contexts:
            if context.name == run or str(context.id) == run:
                return context
        raise LineageError(f"No run {run!r}; runs: {', '.join(c.name for c in contexts)}")

    # --- artifacts ------------------------------------------------------------------------
    def events(self) -> _Events:
        """The events of every execution read (one request), then of what a trace reached."""
        if self._events is None:
            executions = list(self.execution_node)
            self._events = _Events(executions, self.store.get_events_by_execution_ids(executions))
        return self._events

    def producer(self, artifact_id: int) -> tuple[int, str] | None:
        """(execution id, output key) of the execution that first output the artifact."""
        if self._producer is None:
            self._producer = {}
            for event in self.events().first_read:
                if event.type == mlmd.Event.OUTPUT and event.artifact_id not in self._producer:
                    self._producer[event.artifact_id] = (event.execution_id, output_key(event))
        return self._producer.get(artifact_id)

    def artifact_info(self, artifact: mlmd.Artifact) -> ArtifactInfo:
        produced = self.producer(artifact.id)
        node, key = ("", "")
        if produced:
            node, key = self.execution_node.get(produced[0], ""), produced[1]
        return ArtifactInfo(
            id=artifact.id, type=self.artifact_types.get(artifact.type_id, "?"), uri=artifact.uri,
            state=mlmd.Artifact.State.Name(artifact.state), node=node, output_key=key,
            created=_time(artifact.create_time_since_epoch),
            properties=scalar_properties(artifact))

    def artifacts(self, type_name: str | None = None, run: str | None = None) -> list[ArtifactInfo]:
        if run:
            found = self.store.get_artifacts_by_context(self.run_context(run).id)
        elif type_name:
            found = self.store.get_artifacts_by_type(type_name)
        else:
            found = self.store.get_artifacts()
        if type_name:
            known = set(self.artifact_types.values())
            if type_name not in known:
                raise LineageError(f"No artifact type {type_name!r}; types: {sorted(known)}")
            found = [a for a in found if self.artifact_types.get(a.type_id) == type_name]
        return [self.artifact_info(a) for a in sorted(found, key=lambda a: a.id)]

    def resolve(self, reference: str) -> mlmd.Artifact:
        """An artifact by id, by URI, or by a `latest:<shortcut>`."""
        if reference.startswith("latest:"):
            return self._latest(reference.split(":", 1)[1])
        if reference.isdigit():
            found = self.store.get_artifacts_by_id([int(reference)])
            if not found:
                raise LineageError(f"No artifact with id {reference}")
            return found[0]
        found = self.store.get_artifacts_by_uri(reference.rstrip("/"))
        if not found:
            raise LineageError(
                f"No artifact {reference!r}: give an artifact id, its URI or one of "
                f"{', '.join('latest:' + s for s in SHORTCUTS)}")
        return max(found, key=lambda a: a.id)

    def _latest(self, shortcut: str) -> mlmd.Artifact:
        if shortcut not in SHORTCUTS:
            raise LineageError(f"Unknown shortcut latest:{shortcut}; known: "
                               f"{', '.join('latest:' + s for s in SHORTCUTS)}")
        outputs, required = SHORTCUTS[shortcut]
        # The rule every reader follows (`pipelines.metadata.newest_published`): the newest
        # execution's output, which a cache hit makes an older artifact.
        executions = self.store.get_executions_by_id(
            [execution for execution, node in self.execution_node.items()
             if node in {output.node for output in outputs}])
        [key] = {output.key for output in outputs}
        found = newest_published(
            self.store, executions, key,
            accept=(lambda a: scalar_properties(a).get(required[0]) == required[1])
            if required else None)
        if found is None:
            what = " or ".join(f"{output.type} from {output.node}" for output in outputs) + (
                f" with {required[0]}={required[1]}" if required else "")
            raise LineageError(f"latest:{shortcut}: no {what} in this store")
        return found

    # --- lineage --------------------------------------------------------------------------
    def execution_info(self, execution: mlmd.Execution) -> ExecutionInfo:
        return ExecutionInfo(
            id=execution.id, node=self.execution_node.get(execution.id, "?"),
            type=execution.type, state=execution_state(execution),
            started=_time(execution.create_time_since_epoch),
            seconds=execution_seconds(execution), properties=_execution_properties(execution))

    def trace(self, artifact: mlmd.Artifact, downstream: bool = False) -> dict:
        """The lineage graph from `artifact`: {"root", "artifacts", "executions", "edges"}.

        Upstream: the execution that produced the artifact (not the cached executions that
        reused it), its input artifacts, their producers, ... back to executions without inputs
        (the ExampleGen). Downstream: every execution that read it, their outputs, and so on.
        Edges point the way data flowed: ("a<id>", "e<id>", key) for an input,
        ("e<id>", "a<id>", key) for an output.

        A few requests, however large the graph. ML Metadata's own walk, `get_lineage_subgraph`,
        names its starting artifact with a filter query, which ML Metadata 1.21 does not
        implement (UnimplementedError). So the graph is walked here over the events already
        read (those of the pipeline's executions); then the events of every artifact it reached
        are read in one request, in case an execution not read (another pipeline's) used one of
        them, and the walk is repeated until every artifact it reaches was read whole.
        """
        events = self.events()
        while True:
            artifact_ids, execution_ids, edges = _walk(artifact.id, downstream, events)
            partial = [i for i in artifact_ids if i not in events.whole_artifacts]
            if not partial:
                break
            self._read_artifact_events(partial)
        artifacts = {artifact.id: artifact, **_by_id(self.store.get_artifacts_by_id,
                                                     artifact_ids[1:])}
        executions = _by_id(self.store.get_executions_by_id, execution_ids)
        return {
            "root": artifact.id,
            "direction": "downstream" if downstream else "upstream",
            "artifacts": {i: self.artifact_info(artifacts[i]) for i in artifact_ids},
            "executions": {i: self.execution_info(executions[i]) for i in execution_ids},
            "edges": sorted(edges),
        }

    def _read_artifact_events(self, artifact_ids: list[int]) -> None:
        """Every event of these artifacts, and every event of the executions among them not
        read yet: two requests at most."""
        found = self.store.get_events_by_artifact_ids(artifact_ids)
        self.events().add_artifacts(artifact_ids, found)
        unread = sorted({e.execution_id for e in found} - self.events().of_execution.keys())
        if unread:
            self.events().add_executions(unread, self.store.get_events_by_execution_ids(unread))

    # --- compare --------------------------------------------------------------------------
    def compare(self, run: str = "latest") -> dict:
        """The run's figures: baseline, pruned, compressed, gate and push, from MLMD alone."""
        context = self.run_context(run)
        by_output: dict[tuple[str, str], ArtifactInfo] = {}
        for artifact in self.store.get_artifacts_by_context(context.id):
            info = self.artifact_info(artifact)
            by_output[info.node, info.output_key] = info
        model = (properties.TEST_ACCURACY, properties.TEST_LOSS, properties.NUM_PARAMETERS)
        picks = {
            "baseline": (nodes.BASELINE_MODEL, model),
            "pruned": (nodes.PRUNED_MODEL, (*model, properties.SPARSITY, properties.CLUSTERS)),
            "tflite": (nodes.COMPRESSED, COMPARE_FIGURES),
            "gate": (nodes.BLESSING, (properties.BLESSED,)),
            "push": (nodes.PUSHED_MODEL, (properties.PUSHED, properties.PUSHED_DESTINATION)),
        }
        figures = {}
        for name, (output, keys) in picks.items():
            info = by_output.get((output.node, output.key))
            if info is not None:
                figures[name] = {"artifact_id": info.id,
                                 **{k: info.properties[k] for k in keys if k in info.properties}}
        if not figures:
            raise LineageError(f"Run {context.name} recorded none of the pipeline's figures")
        return {"run": context.name, "figures": figures}


class _Events:
    """Events read from the store, by execution and by artifact. An execution's are whole once
    read by its id; an artifact's once read by its id, and until then they are those of the
    executions read."""

    def __init__(self, execution_ids: list[int], events: list[mlmd.Event]) -> None:
        self.first_read = events  # those of the Lineage's executions, in the store's order
        self.of_execution: dict[int, list[mlmd.Event]] = {}
        self.of_artifact: dict[int, list[mlmd.Event]] = {}
        self.whole_artifacts: set[int] = set()
        self.add_executions(execution_ids, events)

    def add_executions(self, execution_ids: list[int], events: list[mlmd.Event]) -> None:
        for execution_id in execution_ids:
            self.of_execution[execution_id] = []
        for event in events:
            self.of_execution[event.execution_id].append(event)
            if event.artifact_id not in self.whole_artifacts:
                self.of_artifact.setdefault(event.artifact_id, []).append(event)

    def add_artifacts(self, artifact_ids: list[int], events: list[mlmd.Event]) -> None:
        for artifact_id in artifact_ids:
            self.of_artifact[artifact_id] = []
        for event in events:
            self.of_artifact[event.artifact_id].append(event)
        self.whole_artifacts.update(artifact_ids)


def _walk(root: int, downstream: bool,
          events: _Events) -> tuple[list[int], list[int], set[tuple[str, str, str]]]:
    """The artifacts and executions reached from artifact `root`, in the order they are reached
    (the root first), and the edges between them, over the events read so far."""
    step_in = mlmd.Event.INPUT if downstream else mlmd.Event.OUTPUT
    step_out = mlmd.Event.OUTPUT if downstream else mlmd.Event.INPUT
    artifacts, executions = {root: None}, {}  # ordered sets
    edges: set[tuple[str, str, str]] = set()
    pending, seen = [root], set()
    while pending:
        current = pending.pop()
        if current in seen:
            continue
        seen.add(current)
        arriving = [e for e in events.of_artifact.get(current, []) if e.type == step_in]
        if not downstream:
            # Provenance is the execution that made it; cached executions of later runs
            # output the same artifact again and are left out (`runs` shows them).
            arriving = sorted(arriving, key=lambda e: e.execution_id)[:1]
        for event in arriving:
            edges.add(_edge(event))
            if event.execution_id in executions:
                continue
            executions[event.execution_id] = None
            for other in events.of_execution.get(event.execution_id, []):
                if other.type == step_out:
                    edges.add(_edge(other))
                    artifacts.setdefault(other.artifact_id, None)
                    pending.append(other.artifact_id)
    return list(artifacts), list(executions), edges


def _by_id(get, ids: list[int]) -> dict:
    """{id: node} of a store's get_*_by_id, in one request (none for no ids)."""
    return {node.id: node for node in get(ids)} if ids else {}


def _edge(event: mlmd.Event) -> tuple[str, str, str]:
    key = output_key(event)
    if event.type in (mlmd.Event.INPUT, mlmd.Event.DECLARED_INPUT):
        return (f"a{event.artifact_id}", f"e{event.execution_id}", key)
    return (f"e{event.execution_id}", f"a{event.artifact_id}", key)


# What the ExampleGen read: its parameters (TfdsExampleGen's spec) and TFX's input fingerprint.
_EXECUTION_KEYS = ("dataset", "manual_dir", "data_dir", properties.INPUT_FINGERPRINT)


def _execution_properties(execution: mlmd.Execution) -> dict:
    properties = scalar_properties(execution)
    return {k: properties[k] for k in _EXECUTION_KEYS if k in properties}
