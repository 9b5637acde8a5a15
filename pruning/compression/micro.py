"""TensorFlow Lite for Microcontrollers (TFLM): what its own interpreter needs and gives.

A microcontroller runs a full-integer TFLite file compiled into its firmware (flash) with one
block of RAM, the tensor arena, for everything else. This measures a file in TFLM's interpreter
with its reference kernels (PyPI `tflite-micro`): the smallest arena that allocates and invokes
it, its predictions on images, and its time per inference.

Every TFLM call runs in a child process (`python -m pruning.compression.micro ...`, which imports
numpy and TFLM, not TensorFlow): an arena a few bytes too small can crash TFLM's interpreter with
a segmentation fault rather than an error, and after one failed allocation the next one in the
same process is not to be trusted. No TensorFlow here either.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import subprocess
import sys
import tempfile

import numpy as np

from pruning.compression.report import FileInput

# TFLM aligns the arena's allocations to 16 bytes: the smallest arena is found to that step.
ARENA_ALIGNMENT = 16
# Enough for any model this project makes (the baseline's int8 file needs about 16 KB); a file
# that does not run in it is reported as not running, with TFLM's reason.
ARENA_LIMIT = 1 << 20
_TIMEOUT_S = 600
_MISSING_OP = re.compile(r"Didn't find op for builtin opcode '(\w+)'")
# What TFLM's recording allocator reports after an invoke(): the arena it used.
_ARENA_TOTAL = re.compile(r"Arena allocation total (\d+) bytes")


class MicroError(RuntimeError):
    """TFLM cannot run a file; `missing_operators` names the operators it lacks, if that is why."""

    def __init__(self, message: str, missing_operators: tuple[str, ...] = ()):
        super().__init__(message)
        self.missing_operators = missing_operators


@dataclasses.dataclass(frozen=True)
class MicroRun:
    """One file in TFLM: its flash, its arena, and what it computed."""

    flash_bytes: int  # the file, as the firmware's C array holds it
    arena_bytes: int  # the smallest arena that allocates and invokes it
    predictions: np.ndarray  # the class of each image
    latency_ms: float | None  # median invoke() time, reference kernels, this CPU


def _child(args: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", __name__, *args], capture_output=True,
                          text=True, timeout=_TIMEOUT_S)


def _failure(path: str, done: subprocess.CompletedProcess, arena: int) -> MicroError:
    text = done.stdout + done.stderr
    missing = tuple(dict.fromkeys(_MISSING_OP.findall(text)))
    if missing:
        return MicroError(f"TFLM cannot run {os.path.basename(path)}: it has no kernel for "
                          f"{', '.join(missing)}", missing)
    if done.returncode < 0:
        cause = f"the interpreter died with signal {-done.returncode}"
    else:
        cause = " ".join(text.split())[-300:]
    return MicroError(f"TFLM cannot run {os.path.basename(path)} in a {arena:,}-byte arena: "
                      f"{cause}")


def runs_in(path: str, arena: int) -> bool:
    """Whether TFLM allocates and invokes the file in an arena of `arena` bytes."""
    return _child(["probe", path, str(arena)]).returncode == 0


def check(path: str, arena: int = ARENA_LIMIT) -> int:
    """The arena TFLM's recording allocator says the file used in `arena` bytes; MicroError
    naming why TFLM cannot run it there (an operator TFLM lacks, or the arena)."""
    done = _child(["probe", path, str(arena)])
    if done.returncode != 0:
        raise _failure(path, done, arena)
    return int(_ARENA_TOTAL.search(done.stderr).group(1))


def smallest_arena(path: str, limit: int = ARENA_LIMIT) -> int:
    """The smallest arena (a multiple of ARENA_ALIGNMENT bytes) in which TFLM allocates and
    invokes the file, one child process per try: the recording allocator's total, confirmed by
    trying it and one step less, else found by bisection. MicroError when even `limit` bytes
    are not enough or an operator is missing."""
    recorded = -(-check(path, limit) // ARENA_ALIGNMENT)  # in units of ARENA_ALIGNMENT
    if runs_in(path, recorded * ARENA_ALIGNMENT) and not runs_in(
            path, (recorded - 1) * ARENA_ALIGNMENT):
        return recorded * ARENA_ALIGNMENT
    low, high = 0, limit // ARENA_ALIGNMENT  # in units: `low` fails, `high` runs
    while high - low > 1:
        middle = (low + high) // 2
        if runs_in(path, middle * ARENA_ALIGNMENT):
            high = middle
        else:
            low = middle
    return high * ARENA_ALIGNMENT


def run(path: str, images: np.ndarray, arena: int, latency_runs: int = 0) -> MicroRun:
    """The file's class for each float image in [0, 1] (in any layout of the file input's
    values; quantized with the input tensor's own scale and zero point), and with
    `latency_runs` its median invoke() time."""
    with tempfile.TemporaryDirectory() as scratch:
        inputs, outputs = os.path.join(scratch, "images.npy"), os.path.join(scratch, "out.npy")
        np.save(inputs, np.asarray(images, np.float32))
        done = _child(["run", path, str(arena), inputs, outputs, str(latency_runs)])
        if done.returncode != 0:
            raise _failure(path, done, arena)
        predictions = np.load(outputs)
    latency = json.loads(done.stdout.strip().splitlines()[-1])["latency_ms"]
    return MicroRun(flash_bytes=os.path.getsize(path), arena_bytes=arena,
                    predictions=predictions, latency_ms=latency)


def measure(path: str, images: np.ndarray, latency_runs: int = 0) -> MicroRun:
    """`run` in the smallest arena the file needs."""
    return run(path, images, smallest_arena(path), latency_runs)


def c_source(content: bytes, name: str, convert, contract: FileInput) -> tuple[str, str]:
    """(header, source) of a C array holding `content`, aligned, with its length, and in the
    header the input `contract` as constants (its shape; a quantized input's scale and zero
    point): what a firmware project compiles in and feeds. `convert` is TensorFlow's
    `tensorflow.lite.python.util.convert_bytes_to_c_source`, the writer TFLM's examples use
    (passed in, so this module imports no TensorFlow)."""
    source, header = convert(content, name, include_guard=f"{name.upper()}_H_",
                             include_path=f"{name}.h")
    prefix = f"{name.upper()}_INPUT"
    # A model may take a one-channel image without its channel axis (28x28 for 28x28x1).
    height, width, channels = (*contract.shape[1:], 1)[:3]
    lines = [f"// The input: one {height}x{width}x{channels} image, {contract.dtype}, row-major "
             f"(the tensor's shape: {'x'.join(map(str, contract.shape))})."]
    if contract.scale is not None:
        lines.append("// A pixel p (0-255) is given as round(p / 255 / SCALE) + ZERO_POINT.")
    else:
        lines.append("// A pixel p (0-255) is given as p / 255.")
    lines += [f"#define {prefix}_HEIGHT {height}", f"#define {prefix}_WIDTH {width}",
              f"#define {prefix}_CHANNELS {channels}"]
    if contract.scale is not None:
        lines += [f"#define {prefix}_SCALE {contract.scale!r}f",
                  f"#define {prefix}_ZERO_POINT {contract.zero_point}"]
    guard_end = f"#endif  // {name.upper()}_H_"
    header = header.replace(guard_end, "\n".join(lines) + "\n\n" + guard_end)
    return header, source


# --- the child process ------------------------------------------------------------------------
def _interpreter(path: str, arena: int):
    from tflite_micro.python.tflite_micro import runtime

    with open(path, "rb") as f:
        return runtime.Interpreter.from_bytes(f.read(), arena_size=arena)


def _quantized(interpreter, images: np.ndarray) -> np.ndarray:
    detail = interpreter.get_input_details(0)
    if detail["dtype"] != np.int8:
        return images.astype(detail["dtype"])
    quantization = detail["quantization_parameters"]
    scale, zero_point = float(quantization["scales"][0]), int(quantization["zero_points"][0])
    return np.clip(np.round(images / scale + zero_point), -128, 127).astype(np.int8)


def _probe(path: str, arena: int) -> None:
    interpreter = _interpreter(path, arena)
    detail = interpreter.get_input_details(0)
    interpreter.set_input(np.zeros(detail["shape"], detail["dtype"]), 0)
    interpreter.invoke()
    interpreter.print_allocations()  # to stderr, where `check` reads the total


def _run(path: str, arena: int, inputs: str, outputs: str, latency_runs: int) -> float | None:
    import statistics
    import time

    interpreter = _interpreter(path, arena)
    shape = tuple(interpreter.get_input_details(0)["shape"][1:])
    loaded = np.load(inputs)
    images = _quantized(interpreter, loaded.reshape((len(loaded), *shape)))
    predictions = np.empty(len(images), np.int64)
    for index, image in enumerate(images):
        interpreter.set_input(image[None], 0)
        interpreter.invoke()
        predictions[index] = int(np.argmax(interpreter.get_output(0)[0]))
    np.save(outputs, predictions)
    if not latency_runs:
        return None
    times = []
    for _ in range(latency_runs):
        started = time.perf_counter()
        interpreter.invoke()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


if __name__ == "__main__":
    command, file, arena_bytes, *rest = sys.argv[1:]
    if command == "probe":
        _probe(file, int(arena_bytes))
        print(json.dumps({"ok": True}))
    else:
        latency_ms = _run(file, int(arena_bytes), rest[0], rest[1], int(rest[2]))
        print(json.dumps({"latency_ms": latency_ms}))
