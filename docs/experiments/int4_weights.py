"""4-bit weights on the deployed pruned model, measured beside the deployed full-int8 file.

Not part of the pipeline: ai-edge-quantizer 0.10.0 needs `ml-dtypes` 0.7 where the lock pins 0.6,
so it is installed beside the venv for this measurement only:

    make bench     # the deployed model: build/bench/pipeline
    .venv/bin/uv pip install --no-deps --target /tmp/aeq ai-edge-quantizer==0.10.0 \\
        litert-lm-builder==0.18.1 tomli==2.5.0 --python .venv/bin/python
    PYTHONPATH=.:/tmp/aeq .venv/bin/python docs/experiments/int4_weights.py

Prints raw and gzip bytes, accuracy on the eval split (LiteRT, every image) and batch-1,
one-thread latency (the files timed in turns) of each file; the README's "Structured pruning"
section has the figures.
"""

from __future__ import annotations

import glob

import numpy as np
import tensorflow as tf
from ai_edge_quantizer import qtyping, quantizer, recipe_manager
from ai_edge_quantizer.algorithm_manager import AlgorithmName

from components import model_artifact
from pruning import data
from pruning.compression import sizes, space_to_depth, tflite

ROOT = "build/bench/pipeline"
CALIBRATION_IMAGES = 500
ALL = qtyping.TFLOperationName.ALL_SUPPORTED
MIN_MAX = AlgorithmName.MIN_MAX_UNIFORM_QUANT


def float_file_with_names(model) -> bytes:
    """The float graph the full-int8 file runs (first convolutions in space-to-depth form), with
    its tensor names: the quantizer needs them (`tflite.convert` strips them)."""
    rewritten = space_to_depth.rewrite_strided_convs(model)

    @tf.function(input_signature=[tf.TensorSpec(tflite.INPUT_SHAPE, tf.float32, name="image")])
    def scores(image):
        return tf.nn.softmax(rewritten(image, training=False))

    return tf.lite.TFLiteConverter.from_concrete_functions(
        [scores.get_concrete_function()], rewritten).convert()


def quantize(float_file: bytes, calibration_images: np.ndarray, weight_bits: int,
             activations: str) -> bytes:
    """`activations`: "int8" (static, calibrated), "dynamic" (quantized on the fly) or "float"
    (weights only, dequantized before each op)."""
    manager = recipe_manager.RecipeManager()
    if activations == "int8":
        manager.add_static_config(regex=".*", operation_name=ALL, activation_num_bits=8,
                                  weight_num_bits=weight_bits, algorithm_key=MIN_MAX)
    elif activations == "dynamic":
        manager.add_dynamic_config(regex=".*", operation_name=ALL, num_bits=weight_bits,
                                   algorithm_key=MIN_MAX)
    else:
        manager.add_weight_only_config(regex=".*", operation_name=ALL, num_bits=weight_bits,
                                       algorithm_key=MIN_MAX)
    aeq = quantizer.Quantizer(float_file, manager.get_quantization_recipe())
    calibration = None
    if activations == "int8":
        calibration = aeq.calibrate({"serving_default": [
            {"image": image[None].astype(np.float32)} for image in calibration_images]})
    return bytes(aeq.quantize(calibration).quantized_model)


def main() -> None:
    [examples] = glob.glob(f"{ROOT}/TfdsExampleGen/examples/*")
    [pruned] = glob.glob(f"{ROOT}/PruneTrainer/model/*")
    [deployed] = glob.glob(f"{ROOT}/CompressExporter/compressed/*/pruned_int8.tflite")
    eval_images, eval_labels = data.read_split(examples, "eval")
    train_images, _ = data.read_split(examples, "train", limit=CALIBRATION_IMAGES)
    float_file = float_file_with_names(model_artifact.load_model(pruned))
    with tf.io.gfile.GFile(deployed, "rb") as f:
        files = {"deployed full int8 (converter)": f.read()}
    for name, bits, activations in [("int8 weights, int8 activations", 8, "int8"),
                                    ("int4 weights, int8 activations", 4, "int8"),
                                    ("int4 weights, dynamic activations", 4, "dynamic"),
                                    ("int4 weights only", 4, "float")]:
        files[name] = quantize(float_file, train_images, bits, activations)
    latencies = tflite.latencies_ms(files, eval_images[0], runs=200, rounds=7)
    for name, content in files.items():
        accuracy = tflite.TfliteModel(content, num_threads=1).evaluate(
            eval_images, eval_labels).accuracy
        print(f"{name}: raw {len(content):,} gzip {sizes.gzip_size(content):,} "
              f"accuracy {accuracy:.4f} latency {latencies[name]:.4f} ms")


if __name__ == "__main__":
    main()
