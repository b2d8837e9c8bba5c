"""Shape handling shared by the reference cells: one batch axis inside, the caller's layout outside.

Inside the reference code every array carries a batch axis, so the equations are written once:
    x (T, B, I),  states (T+1, B, H),  per-step gradients (T, B, H).
A caller who passes one sequence, x (T, I), gets back arrays without the batch axis.
"""

from __future__ import annotations

import numpy as np


def sigmoid(z: np.ndarray) -> np.ndarray:
    """σ(z) = 1 / (1 + e^{-z}), computed without overflow for large |z|."""
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def as_sequence(x, input_size: int) -> tuple[np.ndarray, bool]:
    """Returns x as float64 (T, B, I) and whether the caller gave a batch axis."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim not in (2, 3) or x.shape[-1] != input_size or x.shape[0] < 1:
        raise ValueError(
            f"x has shape {x.shape}; expected (T, {input_size}) or (T, B, {input_size}) with T >= 1"
        )
    if x.ndim == 2:
        return x[:, None, :], False
    return x, True


def initial_state(s0, batch: int, hidden: int, batched: bool, name: str) -> np.ndarray:
    """Returns an initial state as float64 (B, H); None means zeros."""
    if s0 is None:
        return np.zeros((batch, hidden))
    s0 = np.asarray(s0, dtype=np.float64)
    expected = (batch, hidden) if batched else (hidden,)
    if s0.shape != expected:
        raise ValueError(f"{name} has shape {s0.shape}; expected {expected}")
    return s0.reshape(batch, hidden).copy()


def per_step(d, steps: int, batch: int, width: int, batched: bool, name: str) -> np.ndarray:
    """Returns a per-step array as float64 (T, B, W); None means zeros."""
    if d is None:
        return np.zeros((steps, batch, width))
    d = np.asarray(d, dtype=np.float64)
    expected = (steps, batch, width) if batched else (steps, width)
    if d.shape != expected:
        raise ValueError(f"{name} has shape {d.shape}; expected {expected}")
    return d.reshape(steps, batch, width)


def unbatch(a: np.ndarray, batched: bool, axis: int) -> np.ndarray:
    """Drops the batch axis again when the caller gave one sequence."""
    return a if batched else np.take(a, 0, axis=axis)
