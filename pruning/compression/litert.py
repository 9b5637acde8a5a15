"""A LiteRT interpreter for a TFLite file, with XNNPACK, LiteRT's default CPU kernels, where it
takes the graph; LiteRT's built-in kernels where it refuses it.

XNNPACK refuses sparse (EXPERIMENTAL_SPARSITY) fully-connected layers, and quantized graphs whose
requantization scales fall outside its range, which a model with a dead layer produces: a ReLU
layer that outputs 0 for every calibration image gets an activation scale near 0 (seen on a tiny
model pruned on 300 examples). Such a file is still valid and runs on the built-in kernels, so it
is evaluated and timed on those, with a warning, instead of failing the export. Imports only
`ai_edge_litert` (the memory probe runs it in a bare process).
"""

from __future__ import annotations

import logging

from ai_edge_litert.interpreter import Interpreter, OpResolverType

log = logging.getLogger(__name__)

XNNPACK = "XNNPACK"
BUILTIN = "builtin"
REFERENCE = "reference"


def load_reference(content: bytes) -> tuple[Interpreter, str]:
    """An allocated interpreter on LiteRT's reference kernels (BUILTIN_REF): each operator's
    plain C++, as TFLite Micro's are, with no delegate."""
    interpreter = Interpreter(model_content=content,
                              experimental_op_resolver_type=OpResolverType.BUILTIN_REF)
    interpreter.allocate_tensors()
    return interpreter, REFERENCE


def load(content: bytes | None = None, path: str | None = None,
         num_threads: int | None = None) -> tuple[Interpreter, str]:
    """(an allocated interpreter for the flatbuffer `content` or the file `path`, the kernels
    it runs on: XNNPACK or BUILTIN)."""
    source = {"model_content": content} if content is not None else {"model_path": path}
    try:
        interpreter = Interpreter(**source, num_threads=num_threads)
        interpreter.allocate_tensors()
        return interpreter, XNNPACK
    except RuntimeError as error:
        if "xnnpack" not in str(error).lower():
            raise
        log.warning("LiteRT's XNNPACK delegate refused %s (%s); running it on the built-in "
                    "kernels", path or "a TFLite file", " ".join(str(error).split()))
    interpreter = Interpreter(
        **source, num_threads=num_threads,
        experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    interpreter.allocate_tensors()
    return interpreter, BUILTIN
