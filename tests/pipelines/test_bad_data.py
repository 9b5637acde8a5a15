"""Bad Examples under LocalDagRunner, on small real MNIST: changed after the ExampleGen wrote them.

Each case runs the ExampleGen alone, changes its output files on disk (as a disk or a bucket
could), then runs the pipeline up to the Trainer: the ExampleGen is served from the cache, and
every later step reads the changed files.
- A file with flipped bytes: the StatisticsGen fails naming it; nothing is published.
- A label out of range, a label missing, a pixel out of range: the ExampleValidator reports each;
  the Trainer stops before reading an example and publishes nothing.
- The same gate turned off (STOP_ON_ANOMALIES=false) on a pixel out of range: the Trainer trains,
  and its lineage records the validation it went past.
"""

from __future__ import annotations

import dataclasses
import json

import pytest
import tensorflow as tf
from ml_metadata.proto import metadata_store_pb2
from tfx.orchestration.local.local_dag_runner import LocalDagRunner
from tfx.orchestration.pipeline import Pipeline

from components.baseline_trainer import BaselineTrainer
from pipelines import entrypoint, metadata, nodes
from pipelines.lineage import cli
from pipelines.pipeline import create_components, create_pipeline
from pruning import data
from tests.pipelines.support import make_config
from tests.records import flip_middle, rewrite

pytestmark = [pytest.mark.e2e, pytest.mark.integration]


@dataclasses.dataclass
class BadRun:
    config: object
    error: Exception | None  # what LocalDagRunner raised for the pipeline up to the Trainer
    changed: str  # the Examples file the test changed
    executions: dict  # node id -> its executions, oldest first
    store: object


def _pipeline(config, components) -> Pipeline:
    full = create_pipeline(config)
    return Pipeline(pipeline_name=config.pipeline_name,
                    pipeline_root=full.pipeline_info.pipeline_root, components=components,
                    enable_cache=True,  # the second run reads the first run's (changed) files
                    metadata_connection_config=full.metadata_connection_config,
                    beam_pipeline_args=full.beam_pipeline_args)


def _run_with_changed_examples(root, manual_dir, data_dir, change, **options) -> BadRun:
    """ExampleGen alone; `change(path)` on the first train file; then up to the Trainer."""
    config = make_config(root, manual_dir, data_dir, PIPELINE_NAME="bad", EXAMPLE_LIMIT="300",
                         **options)
    LocalDagRunner().run(_pipeline(config, create_components(config)[:1]))
    store = metadata.open_sqlite(config.metadata_path)
    [examples] = store.get_artifacts_by_type("Examples")
    changed = data.split_files(examples.uri, "train")[0]
    change(changed)
    # New component objects: a Pipeline records its nodes' neighbours in them, and the
    # ExampleGen's cache key would differ.
    components = create_components(config)
    last = next(i for i, c in enumerate(components) if isinstance(c, BaselineTrainer))
    try:
        LocalDagRunner().run(_pipeline(config, components[: last + 1]))
        error = None
    except Exception as raised:  # what the runner raises for the failed component
        error = raised
    store = metadata.open_sqlite(config.metadata_path)
    return BadRun(config, error, changed, metadata.node_executions(store, config.pipeline_name),
                  store)


def _edit_records(path: str, edit) -> None:
    """Rewrites a gzipped TFRecord file of tf.Examples with `edit(list of tf.Example)` applied:
    valid records, other values."""
    records = [tf.train.Example.FromString(r.numpy())
               for r in tf.data.TFRecordDataset(path, compression_type="GZIP")]
    edit(records)
    with tf.io.TFRecordWriter(path, "GZIP") as writer:
        for record in records:
            writer.write(record.SerializeToString())


def _three_anomalies(records) -> None:
    del records[0].features.feature[data.LABEL_KEY]
    records[1].features.feature[data.LABEL_KEY].int64_list.value[0] = 12
    records[2].features.feature[data.IMAGE_KEY].int64_list.value[5] = 300


def _pixel_out_of_range(records) -> None:
    records[2].features.feature[data.IMAGE_KEY].int64_list.value[5] = 300


def _outputs(run: BadRun, execution) -> list:
    events = run.store.get_events_by_execution_ids([execution.id])
    return run.store.get_artifacts_by_id(
        [e.artifact_id for e in events if e.type == metadata_store_pb2.Event.OUTPUT])


def _inputs(run: BadRun, execution) -> list:
    events = run.store.get_events_by_execution_ids([execution.id])
    return run.store.get_artifacts_by_id(
        [e.artifact_id for e in events if e.type == metadata_store_pb2.Event.INPUT])


def _blessed(anomalies_artifact) -> dict:
    # The ExampleValidator's own record, per split: 1 = no anomalies.
    value = anomalies_artifact.custom_properties["blessed"].struct_value
    return {split: int(flag) for split, flag in dict(value).items()}


@pytest.fixture(scope="module")
def corrupt(tmp_path_factory, mnist_manual_dir, prepared_data_dir) -> BadRun:
    return _run_with_changed_examples(tmp_path_factory.mktemp("corrupt"), mnist_manual_dir,
                                      prepared_data_dir,
                                      lambda path: rewrite(path, flip_middle))


@pytest.fixture(scope="module")
def anomalous(tmp_path_factory, mnist_manual_dir, prepared_data_dir) -> BadRun:
    return _run_with_changed_examples(
        tmp_path_factory.mktemp("anomalous"), mnist_manual_dir, prepared_data_dir,
        lambda path: _edit_records(path, _three_anomalies))


def test_a_corrupt_examples_file_fails_the_statistics_gen_naming_it(corrupt):
    assert isinstance(corrupt.error, data.CorruptRecordsError), corrupt.error
    message = str(corrupt.error)
    assert corrupt.changed in message and "1 of 8 TFRecord files" in message
    assert "incorrect data check" in message  # gzip's own checksum, as TensorFlow reports it
    line = entrypoint.failure_line(corrupt.config, corrupt.error)
    assert line.startswith("StatisticsGen failed: CorruptRecordsError: 1 of 8 TFRecord files")
    assert "ENABLE_CACHE=false writes it again." in line
    [statistics] = corrupt.executions[nodes.STATISTICS_GEN]
    assert metadata.execution_state(statistics) == "FAILED"
    assert [a for a in _outputs(corrupt, statistics)
            if a.state == metadata_store_pb2.Artifact.LIVE] == []
    # Nothing downstream ran.
    assert not {nodes.SCHEMA_GEN, nodes.EXAMPLE_VALIDATOR, nodes.TRAINER} & set(
        corrupt.executions)


def test_prune_lineage_shows_the_failed_statistics_gen(corrupt, capsys):
    code = cli.main(["--sqlite", corrupt.config.metadata_path, "--json", "runs"])
    runs = json.loads(capsys.readouterr().out)
    assert code == 0 and runs[-1]["state"] == "FAILED"
    assert runs[-1]["components"][nodes.STATISTICS_GEN] == "FAILED"


def test_anomalies_are_reported_and_stop_the_trainer_before_training(anomalous):
    from components.anomalies import AnomaliesFoundError

    assert isinstance(anomalous.error, AnomaliesFoundError), anomalous.error
    message = str(anomalous.error)
    assert "found anomalies in the Examples, 2 of them" in message  # one per feature
    assert "split train: label:" in message and "Unexpectedly large value: 12" in message
    assert "minimum fraction = 1.000000" in message  # the record without a label
    assert "split train: image: Out-of-range values (Unexpectedly large value: 300" in message
    # `make run`'s last line: the component, the cause and the option that gets past it.
    line = entrypoint.failure_line(anomalous.config, anomalous.error)
    assert line.startswith("Trainer failed: AnomaliesFoundError: The ExampleValidator found")
    assert "In this pipeline: STOP_ON_ANOMALIES=false (--stop-on-anomalies false)." in line
    [validator] = anomalous.executions[nodes.EXAMPLE_VALIDATOR]
    assert metadata.execution_state(validator) == "COMPLETE"
    [report] = _outputs(anomalous, validator)
    assert report.state == metadata_store_pb2.Artifact.LIVE
    assert _blessed(report) == {"train": 0, "eval": 1}
    [trainer] = anomalous.executions[nodes.TRAINER]
    assert metadata.execution_state(trainer) == "FAILED"
    assert [a for a in _outputs(anomalous, trainer)
            if a.state == metadata_store_pb2.Artifact.LIVE] == []
    assert report.id in {a.id for a in _inputs(anomalous, trainer)}


def test_the_schema_holds_the_models_requirements(anomalous):
    """Inferred from the changed data, the label would be optional and unbounded."""
    from tensorflow_metadata.proto.v0 import schema_pb2
    from tfx.utils import io_utils

    [schema_gen] = anomalous.executions[nodes.SCHEMA_GEN]
    [artifact] = _outputs(anomalous, schema_gen)
    schema = io_utils.parse_pbtxt_file(f"{artifact.uri}/schema.pbtxt", schema_pb2.Schema())
    features = {f.name: f for f in schema.feature}
    assert (features["label"].int_domain.min, features["label"].int_domain.max) == (0, 9)
    assert (features["image"].int_domain.min, features["image"].int_domain.max) == (0, 255)
    assert features["label"].presence.min_fraction == 1.0
    assert [d.size for d in features["image"].shape.dim] == [784]


def test_with_the_gate_off_the_trainer_trains_past_the_anomalies(
        tmp_path, mnist_manual_dir, prepared_data_dir, caplog):
    run = _run_with_changed_examples(
        tmp_path, mnist_manual_dir, prepared_data_dir,
        lambda path: _edit_records(path, _pixel_out_of_range), STOP_ON_ANOMALIES="false",
        TRAIN_EPOCHS="1")
    assert run.error is None
    [validator] = run.executions[nodes.EXAMPLE_VALIDATOR]
    [report] = _outputs(run, validator)
    assert _blessed(report) == {"train": 0, "eval": 1}
    [trainer] = run.executions[nodes.TRAINER]
    assert metadata.execution_state(trainer) == "COMPLETE"
    assert report.id in {a.id for a in _inputs(run, trainer)}  # lineage: which validation
    assert "Training despite anomalies in the Examples (stop_on_anomalies is off), 1 of them: " \
           "split train: image: Out-of-range values" in caplog.text
