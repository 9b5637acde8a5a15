"""Any TFDS image classification dataset, by the builder's own info: a builder this test
registers (12x12 colour images, four classes, feature names of its own, a text feature beside
them) goes through the ExampleGen, StatisticsGen and SchemaGen with its shape and classes, and
its images arrive as the builder made them."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds
from tfx.orchestration.local.local_dag_runner import LocalDagRunner
from tfx.orchestration.pipeline import Pipeline
from tfx.types import standard_artifacts

from components import examples as examples_lib
from pipelines import configs, data_check, metadata
from pipelines.pipeline import create_components, create_pipeline
from pruning import data
from pruning.image_data import ImageFormat
from tests.pipelines.support import TINY_TRAINING, node_artifacts

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

SHAPE, CLASSES = (12, 12, 3), 4
COUNTS = {"train": 40, "test": 20}


def _images(split: str) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(len(split))
    count = COUNTS[split]
    return (rng.integers(0, 256, (count, *SHAPE), dtype=np.uint8),
            rng.integers(0, CLASSES, count))


class ColourSquares(tfds.core.GeneratorBasedBuilder):
    """Random 12x12 colour images in four classes, made here: nothing to download."""

    VERSION = tfds.core.Version("1.0.0")

    def _info(self) -> tfds.core.DatasetInfo:
        return tfds.core.DatasetInfo(builder=self, features=tfds.features.FeaturesDict({
            "picture": tfds.features.Image(shape=SHAPE),
            "kind": tfds.features.ClassLabel(num_classes=CLASSES),
            "caption": tfds.features.Text()}))

    def _split_generators(self, dl_manager):
        return {split: self._generate_examples(split) for split in COUNTS}

    def _generate_examples(self, split):
        images, labels = _images(split)
        for index, (image, label) in enumerate(zip(images, labels, strict=True)):
            yield index, {"picture": image, "kind": int(label), "caption": f"square {index}"}


def test_a_dataset_of_its_own_shape_and_classes(tmp_path):
    config = configs.load_config([], environ={
        "DATASET": "colour_squares", "PIPELINE_ROOT": str(tmp_path / "root"),
        "TFDS_DATA_DIR": str(tmp_path / "tfds"), **TINY_TRAINING})
    assert data_check.check_data(config) == data_check.DataShape(SHAPE, CLASSES)
    full = create_pipeline(config)
    LocalDagRunner().run(Pipeline(
        pipeline_name=config.pipeline_name, pipeline_root=full.pipeline_info.pipeline_root,
        components=create_components(config)[:3],
        metadata_connection_config=full.metadata_connection_config,
        beam_pipeline_args=full.beam_pipeline_args))
    artifacts = node_artifacts(config)
    [stored] = metadata.open_sqlite(config.metadata_path).get_artifacts_by_type("Examples")
    examples = standard_artifacts.Examples()
    examples.set_mlmd_artifact(stored)
    assert examples_lib.format_of(examples) == ImageFormat(shape=SHAPE)
    assert examples_lib.declared_classes(examples) == CLASSES
    # Labels 0-3, as the ClassLabel declares, whatever the train split happens to hold.
    assert examples_lib.num_classes(artifacts["SchemaGen", "schema"].uri) == CLASSES
    # The images, by content: the builder's own, in the layout the pipeline reads.
    images, labels = data.read_split(examples.uri, "eval", image_format=ImageFormat(shape=SHAPE))
    expected_images, expected_labels = _images("test")
    order = np.lexsort((expected_labels, expected_images.reshape(20, -1).sum(axis=1)))
    found = np.lexsort((labels, images.reshape(20, -1).sum(axis=1)))
    np.testing.assert_array_equal(np.round(images[found] * 255).astype(np.uint8),
                                  expected_images[order])
    np.testing.assert_array_equal(labels[found], expected_labels[order])


def test_a_dataset_that_is_not_image_classification_is_named(tmp_path):
    with pytest.raises(configs.SettingsError, match=r"^DATASET=imdb_reviews \(--dataset\): "
                       r"TFDS dataset 'imdb_reviews' is not an image classification dataset"):
        data_check.check_data(configs.load_config([], environ={
            "DATASET": "imdb_reviews", "TFDS_DATA_DIR": str(tmp_path)}))


def test_an_unprepared_dataset_offline_says_which_files_go_where(tmp_path, monkeypatch):
    from components.tfds_example_gen import tfds_source

    monkeypatch.setattr(tfds_source, "can_download", lambda builder: False)
    with pytest.raises(configs.SettingsError) as raised:
        data_check.check_data(configs.load_config([], environ={
            "DATASET": "cifar10", "TFDS_DATA_DIR": str(tmp_path)}))
    assert str(raised.value) == (
        "DATASET=cifar10 (--dataset): TFDS dataset 'cifar10' is not prepared, and no manual_dir "
        "was given. Put its source file (cifar-10-binary.tar.gz) in one directory and pass it "
        "as `manual_dir` (TFDS_MANUAL_DIR=... or --tfds-manual-dir ...); this machine cannot "
        "download them (it reaches none of their hosts).")


def test_the_read_split_sees_tf_images(tmp_path):
    """The check above compares pixels through `data.read_split`; here that it gives [0, 1]
    floats of the declared shape, so the comparison is of images, not of anything."""
    path = tmp_path / "Split-eval"
    path.mkdir()
    image = np.arange(12 * 12 * 3, dtype=np.int64).reshape(SHAPE) % 256
    example = tf.train.Example(features=tf.train.Features(feature={
        "image": tf.train.Feature(int64_list=tf.train.Int64List(value=image.reshape(-1))),
        "label": tf.train.Feature(int64_list=tf.train.Int64List(value=[2]))}))
    with tf.io.TFRecordWriter(str(path / "data.gz"), options="GZIP") as writer:
        writer.write(example.SerializeToString())
    images, labels = data.read_split(str(tmp_path), "eval", image_format=ImageFormat(shape=SHAPE))
    assert images.shape == (1, *SHAPE) and labels.tolist() == [2]
    np.testing.assert_array_equal(np.round(images[0] * 255), image)
