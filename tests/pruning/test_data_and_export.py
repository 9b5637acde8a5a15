"""Input parsing, augmentation, the tf.Example serving signature and the Keras file round trip."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from components.tfds_example_gen.tfds_source import to_tf_example
from pruning import data
from pruning.model import export
from pruning.sparsity import wrap
from pruning.training import baseline, schedule
from tests.pruning.helpers import params, tiny_model


@pytest.fixture
def examples():
    rng = np.random.default_rng(3)
    images = rng.integers(0, 256, size=(6, 28, 28, 1), dtype=np.uint8)
    labels = np.arange(6) % 10
    serialized = [to_tf_example(i, lbl).SerializeToString() for i, lbl in zip(images, labels,
                                                                                strict=True)]
    return images[..., 0], labels, serialized


def test_dataset_parses_tfds_example_gen_records(tmp_path, examples):
    images, labels, serialized = examples
    path = str(tmp_path / "data_tfrecord-00000-of-00001.gz")
    with tf.io.TFRecordWriter(path, options="GZIP") as writer:
        for record in serialized:
            writer.write(record)

    batches = list(data.make_dataset([path], batch_size=4))
    assert [b[0].shape for b in batches] == [(4, 28, 28, 1), (2, 28, 28, 1)]
    got_images = np.concatenate([b[0].numpy() for b in batches])
    np.testing.assert_allclose(got_images, images.reshape(-1, 28, 28, 1) / 255.0, rtol=1e-6)
    np.testing.assert_array_equal(np.concatenate([b[1].numpy() for b in batches]), labels)


def test_split_files_names_a_missing_split(tmp_path):
    with pytest.raises(FileNotFoundError, match="No files for split 'eval'"):
        data.split_files(str(tmp_path), "eval")


def test_augmentation_shifts_by_at_most_max_shift_without_losing_the_digit():
    image = np.zeros((1, 28, 28), np.float32)
    image[0, 10:18, 10:18] = 1.0  # a centred blob stays whole under any allowed shift
    offsets = set()
    for _ in range(40):
        shifted, _ = data.augment_images(tf.constant(image), tf.constant([3]))
        assert shifted.shape == (1, 28, 28)
        assert float(tf.reduce_sum(shifted)) == 64.0
        rows, cols = np.nonzero(shifted.numpy()[0])
        offsets.add((int(rows.min()) - 10, int(cols.min()) - 10))
    steps = {d for offset in offsets for d in offset}
    assert steps <= set(range(-data.MAX_SHIFT, data.MAX_SHIFT + 1))
    assert len(offsets) > 1  # it does move


def test_serving_signature_takes_serialized_examples(tmp_path, examples):
    images, _, serialized = examples
    model = tiny_model()
    export.export_saved_model(model, str(tmp_path / "saved"))

    loaded = tf.saved_model.load(str(tmp_path / "saved"))
    scores = loaded.signatures[export.SERVING_SIGNATURE](examples=tf.constant(serialized))["scores"]
    assert scores.shape == (6, 10)
    np.testing.assert_allclose(tf.reduce_sum(scores, axis=1), np.ones(6), rtol=1e-5)
    expected = tf.nn.softmax(model(images.astype(np.float32) / 255.0, training=False))
    np.testing.assert_allclose(scores, expected, rtol=1e-4, atol=1e-6)


def test_stripped_pruned_model_round_trips_through_the_keras_file(tmp_path, examples):
    images, _, _ = examples
    stripped = wrap.strip_pruning(wrap.apply_pruning(tiny_model(), params()))
    path = export.save_keras(stripped, str(tmp_path / "keras" / "model.keras"))

    reloaded = export.load_keras(path)
    assert type(reloaded.get_layer("dense1")).__name__ == "ScaledDense"
    x = images.astype(np.float32) / 255.0
    np.testing.assert_allclose(reloaded(x), stripped(x), rtol=1e-5, atol=1e-6)


def test_keras_file_loads_in_a_process_that_imported_only_export(tmp_path):
    """A notebook that imported neither the custom layer nor the schedule can load the file."""
    import subprocess
    import sys

    model = tiny_model()
    baseline.compile_model(model, schedule.make_optimizer(1e-3, total_steps=10))  # as the Trainer
    path = export.save_keras(model, str(tmp_path / "model.keras"))
    code = (f"import pruning.model.export as e; m = e.load_keras({path!r}); "
            "print(type(m.get_layer('dense1')).__name__)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().endswith("ScaledDense")
