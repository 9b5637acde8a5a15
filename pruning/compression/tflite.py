"""TFLite files of a Keras model and what they hold: conversion, sizes, accuracy, zeros.

Runs the files with LiteRT (`ai_edge_litert`), the runtime that ships to devices
(`tf.lite.Interpreter` is deprecated in TF 2.21); the converter stays `tf.lite.TFLiteConverter`.

The contract of every file: input one image in the model's own input shape with a batch of 1
(the CNN's [1, 28, 28]), float32 scaled to [0, 1] (full-integer files: int8, that value quantized
with the input tensor's own scale and zero point); output the class probabilities (the model's
softmax, or one added to its logits), float32 or, for full-integer files, int8.
"""

from __future__ import annotations

import statistics
import time
import warnings
from collections.abc import Iterator

import numpy as np
import tensorflow as tf
import tf_keras as keras
from ai_edge_litert import schema_py_generated as schema

from pruning import data
from pruning.compression import litert, sizes, space_to_depth
from pruning.compression.report import TFLITE_FLAVOURS, FileInput, StoredTensor
from pruning.model import outputs
from pruning.training.metrics import Metrics

MODES = TFLITE_FLAVOURS


def input_shape(model: keras.Model) -> tuple[int, ...]:
    """The shape of every file's input: the model's own, batch 1."""
    return (1, *(int(d) for d in model.input_shape[1:]))


def convert(
    model: keras.Model,
    mode: str,
    representative_images: np.ndarray | None = None,
    sparse: bool = False,
    rearrange: bool = True,
) -> bytes:
    """A TFLite flatbuffer of `model`'s class probabilities, batch 1, without tensor names
    (`strip_names`).

    `float`: float32 weights. `dynamic_int8`: int8 weights, float activations. `int8`: int8
    weights, activations, input and output, calibrated on `representative_images`; its first
    strided convolutions read a space-to-depth rearrangement of the image
    (`space_to_depth.rewrite_strided_convs`: the same outputs, faster in int8).
    `rearrange=False` keeps a full-int8 file's convolutions in their own form: the micro file's,
    whose flash the rearranged kernels would grow (`micro`).
    `sparse`: the converter's EXPERIMENTAL_SPARSITY optimization, which stores sparse kernels in a
    compressed (index + values) format for runtimes with sparse kernels.
    """
    if mode not in MODES:
        raise ValueError(f"Unknown TFLite mode {mode!r}; choose one of {MODES}")
    if mode == "int8" and (representative_images is None or len(representative_images) == 0):
        raise ValueError("int8 needs representative_images to calibrate the activations")
    if mode == "int8" and rearrange:
        model = space_to_depth.rewrite_strided_convs(model)

    @tf.function(input_signature=[tf.TensorSpec(input_shape(model), tf.float32, name="image")])
    def scores(image):
        return outputs.probabilities(model, model(image, training=False))

    converter = tf.lite.TFLiteConverter.from_concrete_functions(
        [scores.get_concrete_function()], model
    )
    # The function is frozen in memory rather than saved as a SavedModel first: the same file
    # (the signature aside, which `strip_names` writes), at a tenth of the time (about 0.2 s
    # against 1.5 s a file here; the exporter converts eight).
    converter.experimental_lower_to_saved_model = False
    optimizations = [tf.lite.Optimize.DEFAULT] if mode != "float" else []
    if sparse:
        optimizations.append(tf.lite.Optimize.EXPERIMENTAL_SPARSITY)
    converter.optimizations = optimizations
    if mode == "int8":
        images = data.model_inputs(np.asarray(representative_images, np.float32),
                                   model.input_shape)

        def calibration() -> Iterator[list[np.ndarray]]:
            for image in images:
                yield [image[None]]

        converter.representative_dataset = calibration
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.int8
        converter.inference_output_type = tf.int8
    with warnings.catch_warnings():
        # The in-memory path asks for the input's statistics; calibration sets the input's
        # scale and zero point as in the SavedModel path (tests/pruning/test_tflite.py).
        warnings.filterwarnings("ignore", "Statistics for quantized inputs were expected")
        return strip_names(converter.convert())


SIGNATURE_KEY, SIGNATURE_INPUT, SIGNATURE_OUTPUT = "serving_default", "image", "output_0"


def strip_names(content: bytes) -> bytes:
    """The flatbuffer without the strings no runtime reads: the model description, the subgraph
    names and every tensor's name (TensorFlow's long op paths). It keeps, or gets, one
    signature (`SIGNATURE_KEY`: input `SIGNATURE_INPUT`, output `SIGNATURE_OUTPUT`), unlike
    TensorFlow's `flatbuffer_utils.strip_strings`, so signature runners work on every file."""
    from tensorflow.lite.python import schema_py_generated as tf_schema
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.convert_bytearray_to_object(bytearray(content))
    model.description = None
    for subgraph in model.subgraphs:
        subgraph.name = None
        for tensor in subgraph.tensors:
            tensor.name = None
    if not model.signatureDefs:
        graph = model.subgraphs[0]
        signature = tf_schema.SignatureDefT()
        signature.signatureKey, signature.subgraphIndex = SIGNATURE_KEY, 0
        signature.inputs = [_tensor_map(SIGNATURE_INPUT, graph.inputs[0])]
        signature.outputs = [_tensor_map(SIGNATURE_OUTPUT, graph.outputs[0])]
        model.signatureDefs = [signature]
    return bytes(flatbuffer_utils.convert_object_to_bytearray(model))


def _tensor_map(name: str, index: int):
    from tensorflow.lite.python import schema_py_generated as tf_schema

    tensor_map = tf_schema.TensorMapT()
    tensor_map.name, tensor_map.tensorIndex = name, int(index)
    return tensor_map


class TfliteModel:
    """One TFLite flatbuffer, loaded in LiteRT, answering one image at a time."""

    def __init__(self, content: bytes, num_threads: int | None = None, reference: bool = False):
        # `kernels`: XNNPACK, or LiteRT's built-in ones where XNNPACK refuses the graph;
        # `reference`: LiteRT's reference kernels.
        self.interpreter, self.kernels = (litert.load_reference(content) if reference else
                                          litert.load(content, num_threads=num_threads))
        self._input = self.interpreter.get_input_details()[0]
        self._output = self.interpreter.get_output_details()[0]
        if self._input["shape"][0] != 1:
            raise ValueError(f"Expected a file of batch 1, got input shape "
                             f"{self._input['shape']}")

    @property
    def input_dtype(self) -> np.dtype:
        return self._input["dtype"]

    def scores(self, image: np.ndarray) -> np.ndarray:
        """Class probabilities of one float image in [0, 1] (any layout of the file input's
        values: a [28, 28] image feeds a [1, 28, 28, 1] input)."""
        value = np.asarray(image, np.float32).reshape(self._input["shape"])
        if self.input_dtype == np.int8:
            scale, zero_point = self._input["quantization"]
            value = np.clip(np.round(value / scale + zero_point), -128, 127).astype(np.int8)
        self.interpreter.set_tensor(self._input["index"], value)
        self.interpreter.invoke()
        out = self.interpreter.get_tensor(self._output["index"])[0]
        if self._output["dtype"] == np.int8:
            scale, zero_point = self._output["quantization"]
            out = (out.astype(np.float32) - zero_point) * scale
        return out

    def median_invoke_s(self, runs: int) -> float:
        """Median wall time of `runs` calls of `invoke()` on the input already set, in s."""
        times = []
        for _ in range(runs):
            started = time.perf_counter()
            self.interpreter.invoke()
            times.append(time.perf_counter() - started)
        return statistics.median(times)

    def evaluate(self, images: np.ndarray, labels: np.ndarray) -> Metrics:
        """Accuracy and cross-entropy over every image, one invocation each."""
        if len(images) == 0:
            raise ValueError("Cannot evaluate on an empty set of images")
        correct, loss = 0, 0.0
        for image, label in zip(images, labels, strict=True):
            probabilities = self.scores(image)
            correct += int(np.argmax(probabilities) == label)
            loss -= float(np.log(max(float(probabilities[int(label)]), 1e-7)))
        return Metrics(accuracy=correct / len(images), loss=loss / len(images),
                       num_examples=len(images))


def latencies_ms(contents: dict[str, bytes], image: np.ndarray, runs: int, rounds: int,
                 warmup: int = 50) -> dict[str, float]:
    """Batch-1 `invoke()` time of each file ({key: flatbuffer}) in ms, one thread: in each of
    `rounds` rounds every file runs `runs` times in turn; the figure is the median over rounds
    of each round's median. Interleaving puts every file under the same machine state (clock,
    caches, neighbours), so their ratios hold even when the absolute times drift."""
    if runs < 1 or rounds < 1:
        raise ValueError(f"runs and rounds must be >= 1, got {runs} and {rounds}")
    models = {key: TfliteModel(content, num_threads=1) for key, content in contents.items()}
    for model in models.values():
        model.scores(image)  # sets the input
        model.median_invoke_s(warmup)
    medians = {key: [] for key in models}
    for _ in range(rounds):
        for key, model in models.items():
            medians[key].append(model.median_invoke_s(runs))
    return {key: statistics.median(values) * 1000 for key, values in medians.items()}


_DTYPES = {0: np.float32, 1: np.float16, 2: np.int32, 3: np.uint8, 9: np.int8}  # TensorType codes


def input_contract(content: bytes) -> FileInput:
    """What the file's one input takes, read from its flatbuffer (not from an interpreter):
    its shape and type, and for a quantized input its scale and zero point (`FileInput`)."""
    model = schema.Model.GetRootAs(content, 0)
    graph = model.Subgraphs(0)
    tensor = graph.Tensors(int(graph.InputsAsNumpy()[0]))
    quantization = tensor.Quantization()
    quantized = quantization is not None and quantization.ScaleLength() > 0
    return FileInput(
        shape=tuple(int(d) for d in tensor.ShapeAsNumpy()),
        dtype=np.dtype(_DTYPES[tensor.Type()]).name,
        scale=float(quantization.ScaleAsNumpy()[0]) if quantized else None,
        zero_point=int(quantization.ZeroPointAsNumpy()[0]) if quantized else None)


def stored_tensors(content: bytes) -> list[StoredTensor]:
    """Every constant tensor with 2+ dimensions (the kernels), biggest first.

    Read from the flatbuffer's buffers. Tensors in a sparse (EXPERIMENTAL_SPARSITY) format are
    left out: their buffers hold only the non-zero values.
    """
    model = schema.Model.GetRootAs(content, 0)
    graph = model.Subgraphs(0)
    readers = _readers(model, graph)
    found = []
    for t in range(graph.TensorsLength()):
        tensor = graph.Tensors(t)
        buffer = model.Buffers(tensor.Buffer())
        dtype = _DTYPES.get(tensor.Type())
        if tensor.ShapeLength() < 2 or buffer.DataLength() == 0 or dtype is None:
            continue
        if tensor.Sparsity() is not None:
            continue
        raw = buffer.DataAsNumpy().tobytes()
        values = np.frombuffer(raw, dtype)
        quantization = tensor.Quantization()
        zero_point = 0
        if quantization is not None and quantization.ZeroPointLength():
            zero_point = int(quantization.ZeroPointAsNumpy()[0])
        found.append(StoredTensor(
            name=tensor.Name().decode() if tensor.Name() else readers.get(t, f"tensor {t}"),
            shape=tuple(int(d) for d in tensor.ShapeAsNumpy()),
            dtype=np.dtype(dtype).name,
            bytes=len(raw),
            zeros=int(np.sum(values == zero_point)),
            values=int(values.size),
            gzip_bytes=sizes.gzip_size(raw),
        ))
    return sorted(found, key=lambda x: -x.bytes)


_OP_NAMES = {code: name for name, code in vars(schema.BuiltinOperator).items()
             if not name.startswith("_")}


def _readers(model, graph) -> dict[int, str]:
    """{tensor index: "<op> <n> input <i>"}, e.g. "conv_2d 2 input 1" for the filter of the
    second convolution: how a file without tensor names (`strip_names`) names its kernels."""
    seen: dict[str, int] = {}
    names = {}
    for o in range(graph.OperatorsLength()):
        op = graph.Operators(o)
        code = model.OperatorCodes(op.OpcodeIndex())
        kind = _OP_NAMES.get(max(code.BuiltinCode(), code.DeprecatedBuiltinCode()), "op").lower()
        seen[kind] = seen.get(kind, 0) + 1
        for position, tensor in enumerate(op.InputsAsNumpy()):
            names.setdefault(int(tensor), f"{kind} {seen[kind]} input {position}")
    return names


def weight_zeros(content: bytes) -> tuple[int, int]:
    """(zeros, total) over the stored kernels: whether pruning's zeros survived conversion
    (a quantized weight equal to its zero point is a zero)."""
    tensors = stored_tensors(content)
    return sum(t.zeros for t in tensors), sum(t.values for t in tensors)
