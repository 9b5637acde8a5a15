"""Measuring what pruning achieved, on plain (stripped) weights."""

from __future__ import annotations

import dataclasses

import numpy as np
import tf_keras as keras

from pruning.architecture import kernel_input_axis


@dataclasses.dataclass(frozen=True)
class LayerSparsity:
    layer: str
    zeros: int
    total: int

    @property
    def sparsity(self) -> float:
        return self.zeros / self.total


@dataclasses.dataclass(frozen=True)
class SparsityReport:
    layers: tuple[LayerSparsity, ...]

    @property
    def overall(self) -> float:
        """Zeros over all weights of the measured kernels (not a mean of per-layer ratios)."""
        return sum(x.zeros for x in self.layers) / sum(x.total for x in self.layers)

    def to_dict(self) -> dict:
        return {
            "overall": self.overall,
            "layers": {x.layer: {"sparsity": x.sparsity, "zeros": x.zeros, "total": x.total}
                       for x in self.layers},
        }


def measure_sparsity(model: keras.Model, layer_names: list[str]) -> SparsityReport:
    """Fraction of exact zeros in the kernel of each named layer, and over all of them."""
    by_name = {layer.name: layer for layer in model.layers}
    missing = [name for name in layer_names if name not in by_name]
    if missing:
        raise ValueError(f"Model {model.name!r} has no layer {missing}")
    rows = []
    for name in layer_names:
        kernel = keras.backend.get_value(by_name[name].kernel)
        rows.append(LayerSparsity(name, int(np.sum(kernel == 0)), int(kernel.size)))
    return SparsityReport(tuple(rows))


def m_by_n_blocks(kernel: np.ndarray, n: int) -> np.ndarray:
    """The kernel cut into blocks of n consecutive input channels: shape (blocks, n)."""
    moved = np.moveaxis(kernel, kernel_input_axis(kernel.ndim), -1)
    if moved.shape[-1] % n:
        raise ValueError(f"Input channels {moved.shape[-1]} are not a multiple of {n}")
    return moved.reshape(-1, n)


def zeros_per_m_by_n_block(kernel: np.ndarray, n: int) -> np.ndarray:
    """How many zeros each block of n consecutive input channels holds."""
    return np.sum(m_by_n_blocks(kernel, n) == 0, axis=-1)
