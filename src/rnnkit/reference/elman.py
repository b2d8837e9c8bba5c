"""Elman RNN: forward pass, hand-written backpropagation through time, and step Jacobians, in float64.

The lecture's notation, with time running t = 1..T and h_0 the initial state:

    a_t = W_ih x_t + b_ih + W_hh h_{t-1} + b_hh        pre-activation
    h_t = φ(a_t)                                      φ = tanh or relu

Arrays keep the lecture's indices where they can: `cache.h[t]` is h_t (so `cache.h[0]` is h_0), while
x and a have no step 0, so x_t is `cache.x[t - 1]` and a_t is `cache.a[t - 1]`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._shapes import as_sequence, initial_state, per_step, unbatch
from .params import ElmanParams

NONLINEARITIES = ("tanh", "relu")


def _phi(a: np.ndarray, nonlinearity: str) -> np.ndarray:
    return np.tanh(a) if nonlinearity == "tanh" else np.maximum(a, 0.0)


def _phi_prime(a: np.ndarray, h: np.ndarray, nonlinearity: str) -> np.ndarray:
    """φ'(a_t), written with h_t = φ(a_t) where that is cheaper: tanh' = 1 - h², relu' = [a > 0]."""
    return 1.0 - h**2 if nonlinearity == "tanh" else (a > 0).astype(np.float64)


@dataclass(frozen=True, eq=False)
class ElmanCache:
    """What the forward pass keeps for BPTT; every array has a batch axis B (1 for one sequence).

    Attributes:
        x: inputs x_1..x_T, (T, B, I); x_t is x[t - 1].
        a: pre-activations a_1..a_T, (T, B, H); a_t is a[t - 1].
        h: states h_0..h_T, (T+1, B, H); h_t is h[t].
        nonlinearity: "tanh" or "relu".
        batched: whether the caller passed x with a batch axis (outputs are shaped to match).
    """

    x: np.ndarray
    a: np.ndarray
    h: np.ndarray
    nonlinearity: str
    batched: bool

    @property
    def steps(self) -> int:
        return self.x.shape[0]

    @property
    def h_final(self) -> np.ndarray:
        """h_T, (B, H) or (H,)."""
        return unbatch(self.h[-1], self.batched, axis=0)


def elman_forward(params: ElmanParams, x, h0=None, nonlinearity: str = "tanh"):
    """Runs the Elman cell over a sequence: h_t = φ(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh).

    Args:
        params: the cell's weights (torch.nn.RNNCell layout).
        x: inputs, (T, I) for one sequence or (T, B, I) for a batch.
        h0: initial state h_0, (H,) or (B, H); zeros when None.
        nonlinearity: "tanh" or "relu", as torch.nn.RNNCell's argument.

    Returns:
        hs: h_1..h_T, (T, H) or (T, B, H).
        cache: an ElmanCache for `elman_backward` and `elman_step_jacobians`.
    """
    if nonlinearity not in NONLINEARITIES:
        raise ValueError(f"nonlinearity is {nonlinearity!r}; expected one of {NONLINEARITIES}")
    x, batched = as_sequence(x, params.input_size)  # (T, B, I)
    T, B, _ = x.shape
    H = params.hidden_size
    h = np.empty((T + 1, B, H))  # h[t] = h_t
    h[0] = initial_state(h0, B, H, batched, "h0")
    a = np.empty((T, B, H))  # a[t-1] = a_t
    for t in range(1, T + 1):
        a[t - 1] = x[t - 1] @ params.W_ih.T + params.b_ih + h[t - 1] @ params.W_hh.T + params.b_hh
        h[t] = _phi(a[t - 1], nonlinearity)
    cache = ElmanCache(x=x, a=a, h=h, nonlinearity=nonlinearity, batched=batched)
    return unbatch(h[1:], batched, axis=1), cache


def elman_backward(params: ElmanParams, cache: ElmanCache, dhs, dh_final=None) -> dict[str, np.ndarray]:
    """Backpropagation through time for a loss L whose direct gradients dL/dh_t are given.

    "Direct" means through h_t's own use in the loss (for the lecture's readout, ∂ℓ_t/∂h_t); the path
    through later states is what this loop adds. Going t = T..1:

        δh_t = dL/dh_t (direct) + δh_{t+1} ∂h_{t+1}/∂h_t       total gradient; the second term is
                                                                 carried back as `dh_next`, 0 at t = T
        δa_t = δh_t ⊙ φ'(a_t)                                    through the nonlinearity
        ∂L/∂W_ih += δa_tᵀ x_t,  ∂L/∂W_hh += δa_tᵀ h_{t-1},  ∂L/∂b_ih = ∂L/∂b_hh += Σ_batch δa_t
        ∂L/∂x_t = δa_t W_ih
        δh_t ∂h_t/∂h_{t-1} = δa_t W_hh                          carried to step t-1; at t = 1 it is ∂L/∂h_0

    since ∂h_t/∂h_{t-1} = diag(φ'(a_t)) W_hh (see `elman_step_jacobians`).

    Args:
        params: the weights used in the forward pass.
        cache: from `elman_forward`.
        dhs: direct gradients dL/dh_t for t = 1..T, shaped as hs: (T, H) or (T, B, H); None means zeros.
        dh_final: an extra gradient on h_T, as torch's h_n output would receive; added to dhs[-1].

    Returns:
        Gradients {"W_ih", "W_hh", "b_ih", "b_hh", "x", "h0"}, each shaped as its variable.
    """
    x, T, B, H = cache.x, cache.steps, cache.x.shape[1], params.hidden_size
    dh_direct = per_step(dhs, T, B, H, cache.batched, "dhs")  # (T, B, H)
    dh_next = initial_state(dh_final, B, H, cache.batched, "dh_final")  # (B, H): δh_{T+1} ∂h_{T+1}/∂h_T
    g = {k: np.zeros_like(v) for k, v in params.as_dict().items()}
    dx = np.zeros_like(x)  # (T, B, I)
    for t in range(T, 0, -1):
        dh = dh_direct[t - 1] + dh_next  # δh_t, (B, H)
        da = dh * _phi_prime(cache.a[t - 1], cache.h[t], cache.nonlinearity)  # δa_t, (B, H)
        g["W_ih"] += da.T @ x[t - 1]
        g["W_hh"] += da.T @ cache.h[t - 1]
        g["b_ih"] += da.sum(axis=0)
        g["b_hh"] += da.sum(axis=0)
        dx[t - 1] = da @ params.W_ih
        dh_next = da @ params.W_hh  # δh_t ∂h_t/∂h_{t-1}
    g["x"] = unbatch(dx, cache.batched, axis=1)
    g["h0"] = unbatch(dh_next, cache.batched, axis=0)
    return g


def elman_step_jacobians(params: ElmanParams, cache: ElmanCache) -> np.ndarray:
    """∂h_t/∂h_{t-1} = diag(φ'(a_t)) W_hh for t = 1..T, one per sequence in the batch.

    Returns:
        (T, B, H, H), or (T, H, H) for one sequence; entry [t - 1] is the Jacobian of step t,
        with rows indexing h_t and columns indexing h_{t-1}.
    """
    d = _phi_prime(cache.a, cache.h[1:], cache.nonlinearity)  # (T, B, H): φ'(a_t)
    J = d[..., :, None] * params.W_hh  # (T, B, H, H): row r scaled by φ'(a_t)_r
    return unbatch(J, cache.batched, axis=1)
