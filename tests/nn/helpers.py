"""Shared tools of the nn tests: build ours and torch's with the same weights, compare values and gradients."""

from __future__ import annotations

import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

import rnnkit as rk

TOLERANCE = {torch.float32: 1e-5, torch.float64: 1e-10}

TORCH_LAYERS = {
    "rnn_tanh": lambda i, h, **kw: torch.nn.RNN(i, h, nonlinearity="tanh", **kw),
    "rnn_relu": lambda i, h, **kw: torch.nn.RNN(i, h, nonlinearity="relu", **kw),
    "lstm": lambda i, h, **kw: torch.nn.LSTM(i, h, **kw),
    "gru": lambda i, h, **kw: torch.nn.GRU(i, h, **kw),
}
RK_LAYERS = {
    "rnn_tanh": lambda i, h, **kw: rk.nn.RNN(i, h, nonlinearity="tanh", **kw),
    "rnn_relu": lambda i, h, **kw: rk.nn.RNN(i, h, nonlinearity="relu", **kw),
    "lstm": lambda i, h, **kw: rk.nn.LSTM(i, h, **kw),
    "gru": lambda i, h, **kw: rk.nn.GRU(i, h, **kw),
}


def relative_error(actual: torch.Tensor, expected: torch.Tensor) -> float:
    """max |actual - expected| / max |expected| (max-norm relative error; exact zeros compare absolutely)."""
    scale = expected.abs().max().clamp_min(1e-30)
    return float((actual - expected).abs().max() / scale) if expected.abs().max() > 0 else float(actual.abs().max())


def assert_close(actual: torch.Tensor, expected: torch.Tensor, name: str) -> None:
    assert actual.shape == expected.shape, f"{name}: shape {tuple(actual.shape)} != {tuple(expected.shape)}"
    error = relative_error(actual.detach(), expected.detach())
    tolerance = TOLERANCE[expected.dtype]
    assert error <= tolerance, f"{name}: relative error {error:.3g} > {tolerance:g}"


def run_torch(layer: torch.nn.Module, x: torch.Tensor, lengths: torch.Tensor | None, state=None):
    """torch's module on a padded batch: packed sequences where lengths differ, as a user would call it."""
    if lengths is None:
        return layer(x, state)
    packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
    output, final = layer(packed, state)
    output, _ = pad_packed_sequence(output, batch_first=True, total_length=x.shape[1])
    return output, final


def flatten_state(state) -> list[torch.Tensor]:
    return list(state) if isinstance(state, tuple) else [state]


def loss_of(output: torch.Tensor, state, weights: list[torch.Tensor]) -> torch.Tensor:
    """A loss that touches every output and final-state element with a distinct weight."""
    parts = [output, *flatten_state(state)]
    return sum((part * weight).sum() for part, weight in zip(parts, weights, strict=True))


def random_weights_like(output: torch.Tensor, state, seed: int = 1) -> list[torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    return [torch.randn(p.shape, generator=generator, dtype=p.dtype) for p in [output, *flatten_state(state)]]
