"""TFLite conversion of the (pruned) model, run with LiteRT: sizes, accuracy, surviving zeros."""

from __future__ import annotations

import numpy as np
import pytest

from pruning.compression import sizes, tflite
from pruning.sparsity import loops, measure, wrap
from tests.pruning.helpers import (
    ALL_PRUNABLE,
    EPOCHS,
    STEPS_PER_EPOCH,
    params,
    tiny_data,
    tiny_model,
)


def images_and_labels(n: int = 20) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(3)
    return rng.random((n, 28, 28), dtype=np.float32), rng.integers(0, 10, n)


@pytest.fixture(scope="module")
def pruned_model():
    """The tiny model pruned to 80 % everywhere, stripped."""
    import tf_keras as keras

    model = wrap.apply_pruning(tiny_model(), params())
    model.compile(keras.optimizers.Adam(1e-3),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    loops.fit_with_pruning(model, tiny_data(), epochs=EPOCHS, steps_per_epoch=STEPS_PER_EPOCH)
    return wrap.strip_pruning(model)


@pytest.fixture(scope="module")
def files(pruned_model) -> dict[str, bytes]:
    images, _ = images_and_labels()
    return {mode: tflite.convert(pruned_model, mode, images) for mode in tflite.MODES}


def test_float_file_gives_the_keras_models_probabilities(pruned_model, files):
    images, _ = images_and_labels(5)
    model = tflite.TfliteModel(files["float"])
    expected = np.exp(pruned_model(images, training=False).numpy())
    expected /= expected.sum(axis=1, keepdims=True)
    for image, probabilities in zip(images, expected, strict=True):
        np.testing.assert_allclose(model.scores(image), probabilities, atol=1e-5)


def reference_metrics(content: bytes, images: np.ndarray, labels: np.ndarray) -> tuple:
    """(accuracy, loss) through TensorFlow's own TFLite interpreter (`tf.lite`, not LiteRT),
    with the int8 input's scale and zero point read from the flatbuffer with TensorFlow's copy of
    the schema: a second code path, sharing nothing with `tflite.TfliteModel`."""
    import tensorflow as tf
    from tensorflow.lite.python import schema_py_generated as tf_schema

    graph = tf_schema.Model.GetRootAs(content, 0).Subgraphs(0)
    inputs, outputs = graph.Tensors(graph.Inputs(0)), graph.Tensors(graph.Outputs(0))

    def quantization(tensor):
        q = tensor.Quantization()
        return (float(q.ScaleAsNumpy()[0]), int(q.ZeroPointAsNumpy()[0])) if (
            q is not None and q.ScaleLength()) else None

    interpreter = tf.lite.Interpreter(model_content=content)
    interpreter.allocate_tensors()
    in_index = interpreter.get_input_details()[0]["index"]
    out_index = interpreter.get_output_details()[0]["index"]
    quantized_in, quantized_out = quantization(inputs), quantization(outputs)
    correct, loss = 0, 0.0
    for image, label in zip(images, labels, strict=True):
        value = image[None].astype(np.float32)
        if quantized_in:
            scale, zero = quantized_in
            value = np.clip(np.round(value / scale) + zero, -128, 127).astype(np.int8)
        interpreter.set_tensor(in_index, value)
        interpreter.invoke()
        scores = interpreter.get_tensor(out_index)[0].astype(np.float32)
        if quantized_out:
            scale, zero = quantized_out
            scores = (scores - zero) * scale
        correct += int(np.argmax(scores) == label)
        loss -= float(np.log(max(float(scores[int(label)]), 1e-7)))
    return correct / len(labels), loss / len(labels)


@pytest.mark.parametrize("mode", tflite.MODES)
def test_every_mode_evaluates_like_tensorflows_own_interpreter(files, mode):
    images, labels = images_and_labels(40)
    metrics = tflite.TfliteModel(files[mode]).evaluate(images, labels)
    accuracy, loss = reference_metrics(files[mode], images, labels)
    assert metrics.accuracy == accuracy and metrics.num_examples == len(images)
    assert metrics.loss == pytest.approx(loss, rel=1e-4) and metrics.loss > 0


def test_full_integer_file_takes_int8_and_quantized_files_are_smaller(files):
    assert tflite.TfliteModel(files["int8"]).input_dtype == np.int8
    assert tflite.TfliteModel(files["float"]).input_dtype == np.float32
    assert len(files["dynamic_int8"]) < len(files["float"])
    assert len(files["int8"]) < len(files["float"])


@pytest.mark.parametrize("mode", tflite.MODES)
def test_prunings_zeros_survive_conversion(pruned_model, files, mode):
    keras_zeros = sum(x.zeros for x in measure.measure_sparsity(pruned_model,
                                                                  ALL_PRUNABLE).layers)
    zeros, total = tflite.weight_zeros(files[mode])
    assert total > 0
    assert zeros >= keras_zeros  # quantization can only add zeros (tiny weights round to 0)
    assert zeros / total > 0.75


def test_sparse_file_compresses_better_than_a_dense_one(files):
    dense = tflite.convert(tiny_model(), "float")
    assert sizes.gzip_size(files["float"]) < 0.6 * sizes.gzip_size(dense)


@pytest.mark.parametrize(
    ("mode", "images", "message"),
    [("int4", None, "Unknown TFLite mode 'int4'"), ("int8", None, "needs representative")],
)
def test_bad_conversion_requests_are_refused(mode, images, message):
    with pytest.raises(ValueError, match=message):
        tflite.convert(tiny_model(), mode, images)


def test_converted_files_carry_no_tensor_names_but_keep_their_signature(files):
    from tensorflow.lite.python import schema_py_generated as tf_schema

    for mode, content in files.items():
        graph = tf_schema.Model.GetRootAs(content, 0).Subgraphs(0)
        names = [graph.Tensors(t).Name() for t in range(graph.TensorsLength())]
        assert not any(names), mode
        runner = tflite.TfliteModel(content).interpreter.get_signature_runner()
        assert runner.get_input_details() and runner.get_output_details(), mode
    # Kernels without names are named by the op that reads them.
    tensor_names = [t.name for t in tflite.stored_tensors(files["int8"])]
    assert "conv_2d 1 input 1" in tensor_names and "fully_connected 1 input 1" in tensor_names


def test_latencies_of_files_timed_in_turns(files, monkeypatch):
    """Each round times every file once, in turn, so a change in the machine's state (another
    process, the clock) falls on every file alike: the timed calls go a, b, c, a, b, c, ...,
    never a, a, a, b, b, b."""
    timed = []  # (the model's id, runs) of each timed call, in order
    real = tflite.TfliteModel.median_invoke_s

    def recording(model, runs):
        timed.append((id(model), runs))
        return real(model, runs)

    monkeypatch.setattr(tflite.TfliteModel, "median_invoke_s", recording)
    image = images_and_labels(1)[0][0]
    latencies = tflite.latencies_ms(files, image, runs=5, rounds=3, warmup=2)
    assert set(latencies) == set(files) and all(0 < v < 1000 for v in latencies.values())
    warmups, rounds = timed[:len(files)], timed[len(files):]
    assert [runs for _, runs in warmups] == [2] * len(files)
    models = [model for model, _ in warmups]  # one per file, in the files' order
    assert rounds == [(model, 5) for _ in range(3) for model in models]
    with pytest.raises(ValueError, match="runs and rounds must be >= 1, got 0 and 3"):
        tflite.latencies_ms(files, image, runs=0, rounds=3)


def test_runtime_memory_grows_with_the_activations(tmp_path):
    """Two float models that differ only in one activation: 28x28x64 against 28x28x2 float32
    values (200,704 against 6,272 bytes). LiteRT's heap must hold the bigger one."""
    import tf_keras as keras

    from pruning.compression import memory

    heaps = {}
    for filters in (2, 64):
        model = keras.Sequential([
            keras.Input((28, 28)), keras.layers.Reshape((28, 28, 1)),
            keras.layers.Conv2D(filters, 1, padding="same"),
            keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(10)])
        path = tmp_path / f"conv{filters}.tflite"
        path.write_bytes(tflite.convert(model, "float"))
        measured = memory.runtime_memory(str(path))
        assert measured.file_bytes == path.stat().st_size
        heaps[filters] = measured.heap_bytes
    assert heaps[64] - heaps[2] >= (64 - 2) * 28 * 28 * 4


def test_a_file_xnnpack_refuses_runs_on_the_builtin_kernels(tmp_path):
    """A dead ReLU layer (it outputs 0 for every image) gets an activation scale near 0 in a
    full-integer file; its requantization scale (input x weight / output scale, here above 256)
    is then out of XNNPACK's range and XNNPACK refuses the graph. The file is evaluated, timed
    and measured on LiteRT's built-in kernels instead, with the model's own predictions."""
    import tf_keras as keras

    from pruning.compression import litert, memory

    model = keras.Sequential([
        keras.Input((28, 28)), keras.layers.Reshape((28, 28, 1)),
        keras.layers.Conv2D(4, 3, strides=2, activation="relu"), keras.layers.Flatten(),
        keras.layers.Dense(6, activation="relu", name="dead"), keras.layers.Dense(10)])
    dead = model.get_layer("dead")
    kernel = np.random.default_rng(0).uniform(-0.3, 0.3, dead.kernel.shape).astype(np.float32)
    dead.set_weights([kernel, np.full(6, -1000, np.float32)])
    images, _ = images_and_labels()
    content = tflite.convert(model, "int8", images)
    loaded = tflite.TfliteModel(content, num_threads=1)
    assert loaded.kernels == litert.BUILTIN
    expected = tf_softmax(model(images[:4]).numpy())
    for image, probabilities in zip(images[:4], expected, strict=True):
        np.testing.assert_allclose(loaded.scores(image), probabilities, atol=0.01)
    latency = tflite.latencies_ms({"dead": content}, images[0], runs=3, rounds=2, warmup=1)
    assert latency["dead"] > 0
    path = tmp_path / "dead.tflite"
    path.write_bytes(content)
    assert memory.runtime_memory(str(path)).heap_bytes > 0
    # The same model alive runs on XNNPACK.
    dead.set_weights([kernel, np.ones(6, np.float32)])
    alive = tflite.TfliteModel(tflite.convert(model, "int8", images), num_threads=1)
    assert alive.kernels == litert.XNNPACK


def tf_softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def test_the_full_int8_input_is_quantized_over_the_calibration_images_range(files):
    """The in-memory conversion sets the input's scale and zero point from calibration: images in
    [0, 1] map onto the whole int8 range (1/255 per step, 0 at -128)."""
    [given] = tflite.TfliteModel(files["int8"]).interpreter.get_input_details()
    scale, zero_point = given["quantization"]
    assert given["dtype"] == np.int8
    assert scale == pytest.approx(1 / 255, rel=1e-3) and zero_point == -128
