"""The user's own image TFRecords (EXAMPLES_DIR) through the pipeline, checked by content.

The data is written by the tests from MNIST's original files with TensorFlow's own encoders
(tests/user_data.py): PNG with the TF-Slim feature names, gzipped; raw bytes of 32x32 colour
images; int64 lists. ImportExampleGen's Examples must hold exactly what was written; the pushed
model must serve the PNG records at the report's accuracy; the colour data's int8 and micro files
must take a 1x32x32x3 input, which TFLite Micro runs; bad data must stop the run where it is
first seen, named: before any Beam job when a first record tells, in the ExampleValidator when
only the whole data does.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from tfx.orchestration.local.local_dag_runner import LocalDagRunner
from tfx.orchestration.pipeline import Pipeline

from components import examples as examples_lib
from components import model_artifact
from pipelines import configs, metadata
from pipelines.pipeline import create_components, create_pipeline
from pruning import data, records
from pruning.compression import micro, tflite
from pruning.image_data import ImageFormat
from tests import user_data
from tests.pipelines.support import TINY_TRAINING, node_artifacts, node_states

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

TRAIN, EVAL = 600, 300
SLIM = {"image_key": "image/encoded", "label_key": "image/class/label"}


def user_config(tmp_path, examples_dir, **overrides) -> configs.PipelineConfig:
    environ = {"EXAMPLES_DIR": str(examples_dir), "PIPELINE_NAME": "user",
               "PIPELINE_ROOT": str(tmp_path / "root"),
               "SERVING_MODEL_DIR": str(tmp_path / "serving"), **TINY_TRAINING, **overrides}
    return configs.load_config([], environ=environ)


def _run(config, components=None) -> None:
    full = create_pipeline(config)
    if components is not None:
        full = Pipeline(pipeline_name=config.pipeline_name,
                        pipeline_root=full.pipeline_info.pipeline_root, components=components,
                        enable_cache=True,
                        metadata_connection_config=full.metadata_connection_config,
                        beam_pipeline_args=full.beam_pipeline_args)
    LocalDagRunner().run(full)


def _written(examples_dir: Path, split: str) -> list[bytes]:
    """The serialized examples the test wrote to a split, whatever their files' compression."""
    return [record.numpy() for path in records.split_files(str(examples_dir), split)
            for record in tf.data.TFRecordDataset(path, records.compression(path))]


def _content(serialized: list[bytes], image_format: ImageFormat) -> list[tuple[bytes, int]]:
    """Each example's image (its stored bytes or pixel values) and label, sorted."""
    found = []
    for record in serialized:
        features = tf.train.Example.FromString(record).features.feature
        image = features[image_format.image_key]
        stored = (bytes(image.bytes_list.value[0]) if image_format.encoding != "int64"
                  else np.asarray(image.int64_list.value, np.int64).tobytes())
        found.append((hashlib.sha256(stored).digest(),
                      int(features[image_format.label_key].int64_list.value[0])))
    return sorted(found)


def _examples_records(uri: str, split: str) -> list[bytes]:
    return [record.numpy() for path in data.split_files(uri, split)
            for record in tf.data.TFRecordDataset(path, "GZIP")]


@pytest.fixture(scope="module")
def png_dir(tmp_path_factory, mnist_manual_dir) -> Path:
    return user_data.write_dataset(tmp_path_factory.mktemp("png"), mnist_manual_dir,
                                   user_data.png, train=TRAIN, eval_count=EVAL, gzip=True,
                                   **SLIM)


@pytest.fixture(scope="module")
def colour_dir(tmp_path_factory, mnist_manual_dir) -> Path:
    return user_data.write_dataset(tmp_path_factory.mktemp("colour"), mnist_manual_dir,
                                   user_data.raw, train=TRAIN, eval_count=EVAL,
                                   transform=user_data.padded_colour)


@pytest.mark.parametrize(("kind", "options"), [
    ("png", {"IMAGE_FEATURE": "image/encoded", "LABEL_FEATURE": "image/class/label"}),
    ("colour", {"IMAGE_SHAPE": "32,32,3"}),
    ("int64", {"IMAGE_SHAPE": "28,28,1", "IMAGE_FEATURE": "pixels"}),
])
def test_import_example_gen_holds_what_was_written(tmp_path, request, mnist_manual_dir, kind,
                                                   options):
    if kind == "int64":
        examples_dir = user_data.write_dataset(tmp_path / "int64", mnist_manual_dir,
                                               user_data.int64, train=200, eval_count=100,
                                               image_key="pixels")
    else:
        examples_dir = request.getfixturevalue(f"{kind}_dir")
    config = user_config(tmp_path, examples_dir, **options)
    _run(config, create_components(config)[:1])
    [examples] = metadata.open_sqlite(config.metadata_path).get_artifacts_by_type("Examples")
    from tfx.types import standard_artifacts

    artifact = standard_artifacts.Examples()
    artifact.set_mlmd_artifact(examples)
    image_format = examples_lib.format_of(artifact)
    expected = {"png": ImageFormat("image/encoded", "image/class/label", "encoded",
                                   (28, 28, 1)),
                "colour": ImageFormat("image", "label", "raw", (32, 32, 3)),
                "int64": ImageFormat("pixels", "label", "int64", (28, 28, 1))}[kind]
    assert image_format == expected
    for split in records.SPLITS:
        assert (_content(_examples_records(examples.uri, split), image_format)
                == _content(_written(examples_dir, split), image_format))


def test_a_changed_file_is_not_served_from_the_cache(tmp_path, mnist_manual_dir):
    examples_dir = user_data.write_dataset(tmp_path / "data", mnist_manual_dir, user_data.png,
                                           train=100, eval_count=50)
    config = user_config(tmp_path, examples_dir)
    for _ in range(2):
        _run(config, create_components(config)[:1])
    assert node_states(config) == {"ImportExampleGen": "CACHED"}
    # One file rewritten with other images (the same count): another input fingerprint.
    changed = records.split_files(str(examples_dir), "train")[0]
    images, labels = user_data.idx_arrays(mnist_manual_dir, "t10k")
    user_data.write_split(Path(changed).parent, images[-100:].reshape(-1, 28, 28, 1),
                          labels[-100:], user_data.png)
    _run(config, create_components(config)[:1])
    assert node_states(config) == {"ImportExampleGen": "COMPLETE"}
    uri = node_artifacts(config)["ImportExampleGen", "examples"].uri
    image_format = ImageFormat(encoding="encoded")
    assert (_content(_examples_records(uri, "train"), image_format)
            == _content(_written(examples_dir, "train"), image_format))


@pytest.fixture(scope="module")
def png_run(tmp_path_factory, png_dir):
    tmp_path = tmp_path_factory.mktemp("png_run")
    config = user_config(tmp_path, png_dir, IMAGE_FEATURE="image/encoded",
                         LABEL_FEATURE="image/class/label")
    _run(config)
    return config


def _report(config) -> dict:
    uri = node_artifacts(config)["CompressExporter", "report"].uri
    with open(os.path.join(uri, "report.json")) as f:
        return json.load(f)


def test_the_pushed_model_serves_the_png_records_at_the_reports_accuracy(png_run, png_dir):
    config = png_run
    assert set(node_states(config).values()) == {"COMPLETE"}
    pushed = metadata.newest_output(metadata.open_sqlite(config.metadata_path),
                                    config.pipeline_name, _pushed_output())
    destination = pushed.custom_properties["pushed_destination"].string_value
    serialized = _written(png_dir, "eval")
    serve = tf.saved_model.load(destination).signatures["serving_default"]
    scores = serve(examples=tf.constant(serialized))["scores"].numpy()
    labels = np.array([tf.train.Example.FromString(r).features.feature[
        "image/class/label"].int64_list.value[0] for r in serialized])
    # The PruneTrainer's Keras model on the same images, decoded here by PIL-free TF: the same
    # scores.
    pruned = model_artifact.load_model(node_artifacts(config)["PruneTrainer", "model"].uri)
    pixels = np.stack([tf.io.decode_png(tf.train.Example.FromString(r).features.feature[
        "image/encoded"].bytes_list.value[0]).numpy() for r in serialized])
    logits = pruned(data.model_inputs(pixels.astype(np.float32) / 255, pruned.input_shape),
                    training=False).numpy()
    np.testing.assert_allclose(scores, tf.nn.softmax(logits).numpy(), atol=1e-5)
    report = _report(config)
    assert report["num_eval_examples"] == EVAL
    assert int(np.sum(np.argmax(scores, axis=1) == labels)) == round(
        report["summary"]["pruned_accuracy"] * EVAL)


def _pushed_output():
    from pipelines import nodes

    return nodes.PUSHED_MODEL


def test_the_classes_and_the_shape_come_from_the_data(png_run):
    config = png_run
    artifacts = node_artifacts(config)
    schema_uri = artifacts["SchemaGen", "schema"].uri
    image_format = ImageFormat("image/encoded", "image/class/label", "encoded", (28, 28, 1))
    assert examples_lib.num_classes(schema_uri, image_format) == 10  # the train labels' 0-9
    report = _report(config)
    assert report["inputs"]["pruned_int8.tflite"]["shape"] in ([1, 28, 28], [1, 28, 28, 1])


@pytest.fixture(scope="module")
def colour_run(tmp_path_factory, colour_dir):
    tmp_path = tmp_path_factory.mktemp("colour_run")
    config = user_config(tmp_path, colour_dir, IMAGE_SHAPE="32,32,3")
    _run(config)
    return config


def test_colour_images_of_another_size_reach_the_int8_and_micro_files(colour_run, colour_dir):
    config = colour_run
    assert set(node_states(config).values()) == {"COMPLETE"}
    report = _report(config)
    for name in ("pruned_int8.tflite", "pruned_micro.tflite"):
        assert report["inputs"][name]["shape"] == [1, 32, 32, 3]
        assert report["inputs"][name]["dtype"] == "int8"
    compressed = node_artifacts(config)["CompressExporter", "compressed"].uri
    header = Path(compressed, "pruned_micro.h").read_text()
    assert "#define PRUNED_MICRO_INPUT_HEIGHT 32" in header
    assert "#define PRUNED_MICRO_INPUT_CHANNELS 3" in header
    # TFLite Micro runs the micro file on the eval images, decoded here from the raw bytes
    # the test wrote; its classes are LiteRT's on the same file, and its accuracy the report's.
    serialized = _written(colour_dir, "eval")
    features = [tf.train.Example.FromString(r).features.feature for r in serialized]
    images = np.stack([np.frombuffer(f["image"].bytes_list.value[0], np.uint8)
                       .reshape(32, 32, 3) for f in features]).astype(np.float32) / 255
    labels = np.array([f["label"].int64_list.value[0] for f in features])
    path = os.path.join(compressed, "pruned_micro.tflite")
    run = micro.measure(path, images)
    litert = tflite.TfliteModel(Path(path).read_bytes())
    on_litert = np.array([int(np.argmax(litert.scores(image))) for image in images])
    assert np.mean(run.predictions == on_litert) >= 0.98
    assert np.mean(run.predictions == labels) == pytest.approx(
        report["summary"]["micro_accuracy"], abs=1 / EVAL)


def _bad_pngs(tmp_path, mnist_manual_dir) -> Path:
    """PNG records whose first image is 28x28, and then two of 32x32 and one payload that is no
    image: only a pass over all of them can tell."""
    root = user_data.write_dataset(tmp_path / "bad", mnist_manual_dir, user_data.png,
                                   train=200, eval_count=100, shards=1)
    images, labels = user_data.idx_arrays(mnist_manual_dir, "train")
    with tf.io.TFRecordWriter(str(root / "train" / "part-00001.tfrecord")) as writer:
        padded = user_data.padded_colour(images[:2].reshape(-1, 28, 28))[..., :1]
        for image, label in zip(padded, labels[:2], strict=True):
            writer.write(user_data.example(image, label, user_data.png).SerializeToString())
        writer.write(user_data.example(images[2].reshape(28, 28, 1), labels[2],
                                       lambda _: tf.train.Feature(bytes_list=tf.train.BytesList(
                                           value=[b"<html>not an image</html>"]))
                                       ).SerializeToString())
    return root


def test_images_of_another_size_stop_the_trainer_named(tmp_path, mnist_manual_dir):
    config = user_config(tmp_path, _bad_pngs(tmp_path, mnist_manual_dir))
    with pytest.raises(Exception, match="Images of another size") as raised:
        _run(config)
    assert ("split train: image: Images of another size (3 of 203 images are not 28x28 (the "
            "first record's size, which the model takes): 2 are 32x32, 1 is not a PNG or "
            "JPEG)") in str(raised.value)
    states = node_states(config)
    assert states["ExampleValidator"] == "COMPLETE" and states["Trainer"] == "FAILED"
    assert metadata.open_sqlite(config.metadata_path).get_artifacts_by_type("Model") == []


@pytest.mark.parametrize(("change", "message"), [
    ("feature", "EXAMPLES_DIR={root}: IMAGE_FEATURE=image: the records of "
                "{root}/train/part-00000.tfrecord have no feature 'image'; their features: "
                "image/class/label (int64_list), image/encoded (bytes_list)"),
    ("not tfrecord", "EXAMPLES_DIR={root}: {root}/eval/part-00000.tfrecord is not a TFRecord "
                     "file ("),
])
def test_bad_data_stops_before_the_pipeline_starts(tmp_path, mnist_manual_dir, change, message):
    root = user_data.write_dataset(tmp_path / "data", mnist_manual_dir, user_data.png,
                                   train=20, eval_count=10, shards=1, **SLIM)
    if change == "not tfrecord":
        (root / "eval" / "part-00000.tfrecord").write_text("label,image\n3,...\n")
    options = {} if change == "feature" else {"IMAGE_FEATURE": "image/encoded",
                                               "LABEL_FEATURE": "image/class/label"}
    env = {**os.environ, "EXAMPLES_DIR": str(root), "PIPELINE_ROOT": str(tmp_path / "root"),
           **options}
    done = subprocess.run([sys.executable, "-m", "pipelines.local_runner"], env=env,
                          capture_output=True, text=True, timeout=120,
                          cwd=configs.PROJECT_ROOT)
    assert done.returncode == 2, done.stderr[-2000:]
    [line] = done.stderr.strip().splitlines()
    assert line.startswith("pipelines.local_runner: error: " + message.format(root=root))
    assert not (tmp_path / "root").exists()  # no ML Metadata, no artifact: nothing ran


def test_examples_at_a_uri_only_tensorflow_reads_are_imported_by_content(tmp_path,
                                                                        mnist_manual_dir):
    """ram:// (TensorFlow's in-process filesystem, which Beam's filesystems do not know): the
    first records are checked and the files read through tf.io.gfile."""
    images, labels = user_data.idx_arrays(mnist_manual_dir, "t10k")
    root = f"ram://user_data_{os.getpid()}"
    for split, part in (("train", slice(0, 60)), ("eval", slice(60, 90))):
        tf.io.gfile.makedirs(f"{root}/{split}")
        for shard, gzip_it in enumerate((False, True)):
            with tf.io.TFRecordWriter(f"{root}/{split}/part-{shard}",
                                      options="GZIP" if gzip_it else "") as writer:
                for image, label in zip(images[part][shard::2].reshape(-1, 28, 28, 1),
                                        labels[part][shard::2], strict=True):
                    writer.write(user_data.example(image, label, user_data.png)
                                 .SerializeToString())
    config = user_config(tmp_path, root)
    _run(config, create_components(config)[:1])
    uri = node_artifacts(config)["ImportExampleGen", "examples"].uri
    image_format = ImageFormat(encoding="encoded")
    for split in records.SPLITS:
        written = [r.numpy() for path in records.split_files(root, split)
                   for r in tf.data.TFRecordDataset(path, records.compression(path))]
        assert len(written) == {"train": 60, "eval": 30}[split]
        assert (_content(_examples_records(uri, split), image_format)
                == _content(written, image_format))


def test_the_runs_first_line_names_the_users_data_not_a_tfds_dataset(tmp_path):
    from pipelines import entrypoint

    config = user_config(tmp_path, tmp_path, IMAGE_FEATURE="image/encoded")
    assert entrypoint.data_line(config) == (f"examples_dir {tmp_path} (image feature "
                                            "image/encoded, label feature label)")
    tfds = configs.load_config([], environ={"DATASET": "fashion_mnist"})
    assert entrypoint.data_line(tfds).startswith("dataset fashion_mnist, manual_dir ")
