"""Helpers and constants every test may use (the shared fixtures: conftest.py)."""

from __future__ import annotations

import contextlib
import errno
import gzip
import os
import socket
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from kubeflow.image import BASE_ENV as IMAGE_BASE_ENV
from pipelines import configs, stores

MNIST_FILES = (
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
)


# In-process Beam: TFDS's mock_data patches live in this process only.
IN_PROCESS_BEAM_ARGS = [f"--runner={configs.LOCAL_BEAM_RUNNER}", "--direct_running_mode=in_memory"]


# What changes what the entry points do: every pipeline option, the shared store's password and
# the image's base. conftest.py removes them from the environment before the first test, so the
# suite runs the same whatever the user exported; a test about one of them sets it itself.
OPTION_VARIABLES = frozenset(
    {option.env for option in configs.OPTIONS.values()}
    | {stores.MYSQL_PASSWORD_ENV, IMAGE_BASE_ENV})


def clear_option_variables(environ=os.environ) -> dict[str, str]:
    """Removes OPTION_VARIABLES from `environ`; returns what was removed."""
    return {name: environ.pop(name) for name in sorted(OPTION_VARIABLES) if name in environ}


def real_data_dir(dataset: str) -> Path | None:
    """The dataset's four original files in ../shared/data/<dataset>, if they are all there."""
    candidate = configs.SHARED_DATA_DIR / dataset
    return candidate if all((candidate / n).is_file() for n in MNIST_FILES) else None


def manual_dir_or_skip(dataset: str) -> Path:
    found = real_data_dir(dataset)
    if found is None:
        pytest.skip(f"real {dataset} files not found in {configs.SHARED_DATA_DIR / dataset}")
    return found


def idx_arrays(manual_dir: Path, prefix: str) -> tuple[np.ndarray, np.ndarray]:
    """(images [N, 784] uint8, labels [N]) of an original IDX file pair, parsed with numpy alone:
    a second code path, independent of TFDS, to check what the pipeline wrote."""
    with gzip.open(manual_dir / f"{prefix}-images-idx3-ubyte.gz") as f:
        images = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 28 * 28)
    with gzip.open(manual_dir / f"{prefix}-labels-idx1-ubyte.gz") as f:
        labels = np.frombuffer(f.read(), np.uint8, offset=8)
    return images, labels


def read_split(examples, split: str) -> list:
    """The tf.Examples of one split of an Examples artifact, in file order."""
    import tensorflow as tf  # here: the tests that need no TensorFlow do not load it

    files = sorted(tf.io.gfile.glob(os.path.join(examples.uri, f"Split-{split}", "*")))
    dataset = tf.data.TFRecordDataset(files, compression_type="GZIP")
    return [tf.train.Example.FromString(record) for record in dataset.as_numpy_iterator()]


def litert_correct(content: bytes, images: np.ndarray, labels: np.ndarray) -> int:
    """Correct predictions of a TFLite file over [N, 28, 28] float images in [0, 1], run in
    LiteRT with the input quantized here: a second code path beside the pipeline's own
    (pruning.compression.tflite)."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_content=content)
    interpreter.allocate_tensors()
    [given], [taken] = interpreter.get_input_details(), interpreter.get_output_details()
    correct = 0
    for image, label in zip(images, labels, strict=True):
        value = np.asarray(image, np.float32).reshape(given["shape"])
        if given["dtype"] == np.int8:
            scale, zero_point = given["quantization"]
            value = np.clip(np.round(value / scale + zero_point), -128, 127).astype(np.int8)
        interpreter.set_tensor(given["index"], value)
        interpreter.invoke()
        correct += int(np.argmax(interpreter.get_tensor(taken["index"])[0]) == label)
    return correct


def kernel_zeros(model) -> float:
    """Exact zeros over all weights of the model's pruned kernels."""
    kernels = [model.get_layer(name).kernel.numpy()
               for name in ("conv1", "conv2", "conv3", "dense1", "logits")]
    return sum(int(np.sum(k == 0)) for k in kernels) / sum(k.size for k in kernels)


def config_sparsity(config, model) -> float:
    """The overall sparsity the per-layer targets add up to, weighted by the kernel sizes of
    `model`."""
    targets = dict(config.pruning_params.layer_sparsity)
    sizes = {name: model.get_layer(name).kernel.shape.num_elements() for name in targets}
    return sum(targets[n] * sizes[n] for n in sizes) / sum(sizes.values())


@contextlib.contextmanager
def network_guard() -> Iterator[list[str]]:
    """Inside: this process's attempts to reach another machine (a name looked up or an address
    connected to, loopback and Unix sockets aside) fail as they do offline, and are listed in
    the list it yields. A pipeline must not fetch anything while it runs."""
    attempts: list[str] = []
    lookup, connect = socket.getaddrinfo, socket.socket.connect

    def remote(host) -> bool:
        return bool(host) and str(host) not in LOOPBACK and not str(host).startswith("127.")

    def guarded_lookup(host, *args, **kwargs):
        if remote(host):
            attempts.append(f"lookup {host}")
            raise socket.gaierror(socket.EAI_NONAME, f"{host}: no network in this test")
        return lookup(host, *args, **kwargs)

    def guarded_connect(sock, address):
        if sock.family in (socket.AF_INET, socket.AF_INET6) and remote(address[0]):
            attempts.append(f"connect {address[0]}:{address[1]}")
            raise OSError(errno.ENETUNREACH, "no network in this test")
        return connect(sock, address)

    socket.getaddrinfo, socket.socket.connect = guarded_lookup, guarded_connect
    try:
        yield attempts
    finally:
        socket.getaddrinfo, socket.socket.connect = lookup, connect


LOOPBACK = frozenset({"localhost", "::1", "0.0.0.0", "ip6-localhost"})
