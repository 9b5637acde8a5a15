"""The memory LiteRT needs to run a TFLite file, measured in a fresh process.

Two parts, both in bytes:
- heap: what LiteRT allocates from creating the interpreter (one thread, as the latency is
  timed) to the end of its first `invoke()` on a batch-1 input: the interpreter's structures, the
  tensor arena (activations) and the XNNPACK delegate's repacked weights. Measured as the growth
  of glibc's count of bytes in use (`mallinfo2()`: `uordblks + hblkhd`), so it is exact to the
  byte and does not depend on which pages the process had already touched.
- file: the TFLite file itself, which LiteRT maps and reads whole (every weight is read when
  XNNPACK repacks it); in RAM on a phone, in flash on a microcontroller.

A fresh process per file, so one file's allocations cannot be reused by the next:

    python -m pruning.compression.memory FILE.tflite   # prints {"heap_bytes": N}
"""

from __future__ import annotations

import ctypes
import json
import os
import subprocess
import sys

from pruning.compression.report import RuntimeMemory

_TIMEOUT_S = 120


class _MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
        "fordblks", "keepcost")]


def _heap_in_use() -> int:
    """Bytes glibc's malloc has handed out and not taken back (mmapped chunks included)."""
    libc = ctypes.CDLL("libc.so.6")
    if not hasattr(libc, "mallinfo2"):
        raise RuntimeError("Measuring LiteRT's memory needs glibc >= 2.33 (mallinfo2)")
    libc.mallinfo2.restype = _MallInfo2
    info = libc.mallinfo2()
    return info.uordblks + info.hblkhd


def _measure_heap(path: str) -> int:
    """In this process: the heap growth of loading, allocating and invoking `path` once."""
    import numpy as np

    from pruning.compression import litert

    before = _heap_in_use()
    interpreter, _ = litert.load(path=path, num_threads=1)
    detail = interpreter.get_input_details()[0]
    interpreter.set_tensor(detail["index"], np.zeros(detail["shape"], detail["dtype"]))
    interpreter.invoke()
    return _heap_in_use() - before


def runtime_memory(path: str) -> RuntimeMemory:
    """The memory LiteRT needs for the local TFLite file `path` (see the module docstring)."""
    done = subprocess.run([sys.executable, "-m", __name__, path], capture_output=True,
                          text=True, timeout=_TIMEOUT_S)
    if done.returncode != 0:
        raise RuntimeError(f"Measuring the runtime memory of {path} failed: "
                           f"{done.stderr.strip()[-2000:]}")
    heap = int(json.loads(done.stdout.strip().splitlines()[-1])["heap_bytes"])
    return RuntimeMemory(heap_bytes=heap, file_bytes=os.path.getsize(path))


if __name__ == "__main__":
    print(json.dumps({"heap_bytes": _measure_heap(sys.argv[1])}))
