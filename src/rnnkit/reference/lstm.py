"""LSTM: forward pass, hand-written backpropagation through time, and step Jacobians, in float64.

The lecture's notation, with time running t = 1..T, initial state (h_0, c_0), gate order i, f, g, o:

    z_t = W_ih x_t + b_ih + W_hh h_{t-1} + b_hh        (4H,), split into z^i, z^f, z^g, z^o
    i_t = σ(z^i)   f_t = σ(z^f)   g_t = tanh(z^g)   o_t = σ(z^o)
    c_t = f_t ⊙ c_{t-1} + i_t ⊙ g_t
    h_t = o_t ⊙ tanh(c_t)

Arrays keep the lecture's indices where they can: `cache.h[t]` is h_t and `cache.c[t]` is c_t (index 0 is
the initial state), while x_t is `cache.x[t - 1]` and the gates of step t are `cache.gates[t - 1]`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._shapes import as_sequence, initial_state, per_step, sigmoid, unbatch
from .params import LSTMParams


@dataclass(frozen=True, eq=False)
class LSTMCache:
    """What the forward pass keeps for BPTT; every array has a batch axis B (1 for one sequence).

    Attributes:
        x: inputs, (T, B, I); x_t is x[t - 1].
        gates: activated gates [i_t, f_t, g_t, o_t] concatenated, (T, B, 4H); step t is gates[t - 1].
        h: hidden states h_0..h_T, (T+1, B, H).
        c: cell states c_0..c_T, (T+1, B, H).
        batched: whether the caller passed x with a batch axis.
    """

    x: np.ndarray
    gates: np.ndarray
    h: np.ndarray
    c: np.ndarray
    batched: bool

    @property
    def steps(self) -> int:
        return self.x.shape[0]

    @property
    def h_final(self) -> np.ndarray:
        """h_T, (B, H) or (H,)."""
        return unbatch(self.h[-1], self.batched, axis=0)

    @property
    def c_final(self) -> np.ndarray:
        """c_T, (B, H) or (H,)."""
        return unbatch(self.c[-1], self.batched, axis=0)

    def gates_at(self, t: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(i_t, f_t, g_t, o_t), each (B, H)."""
        return tuple(np.split(self.gates[t - 1], 4, axis=-1))


def lstm_forward(params: LSTMParams, x, h0=None, c0=None):
    """Runs the LSTM cell over a sequence (equations in the module docstring).

    Args:
        params: the cell's weights (torch.nn.LSTMCell layout).
        x: inputs, (T, I) for one sequence or (T, B, I) for a batch.
        h0, c0: initial states, (H,) or (B, H); zeros when None.

    Returns:
        hs: h_1..h_T, (T, H) or (T, B, H). The cell states are in the cache (`cache.c`, `cache.c_final`).
        cache: an LSTMCache for `lstm_backward` and `lstm_step_jacobians`.
    """
    x, batched = as_sequence(x, params.input_size)  # (T, B, I)
    T, B, _ = x.shape
    H = params.hidden_size
    h = np.empty((T + 1, B, H))
    c = np.empty((T + 1, B, H))
    h[0] = initial_state(h0, B, H, batched, "h0")
    c[0] = initial_state(c0, B, H, batched, "c0")
    gates = np.empty((T, B, 4 * H))
    for t in range(1, T + 1):
        z = x[t - 1] @ params.W_ih.T + params.b_ih + h[t - 1] @ params.W_hh.T + params.b_hh  # (B, 4H)
        zi, zf, zg, zo = np.split(z, 4, axis=-1)
        i, f, g, o = sigmoid(zi), sigmoid(zf), np.tanh(zg), sigmoid(zo)
        c[t] = f * c[t - 1] + i * g
        h[t] = o * np.tanh(c[t])
        gates[t - 1] = np.concatenate([i, f, g, o], axis=-1)
    cache = LSTMCache(x=x, gates=gates, h=h, c=c, batched=batched)
    return unbatch(h[1:], batched, axis=1), cache


def lstm_backward(params: LSTMParams, cache: LSTMCache, dhs, dh_final=None, dc_final=None):
    """Backpropagation through time for a loss L whose direct gradients dL/dh_t are given.

    Two totals are carried back: δh_t = dL/dh_t and δc_t = dL/dc_t. Going t = T..1:

        δh_t = dL/dh_t (direct) + [δh_{t+1}, δc_{t+1}] ∂(h_{t+1}, c_{t+1})/∂h_t      carried: `dh_next`
        δc_t = δc_{t+1} ⊙ f_{t+1} + δh_t ⊙ o_t ⊙ (1 - tanh²(c_t))                  carried: `dc_next`
        δo_t = δh_t ⊙ tanh(c_t),  δi_t = δc_t ⊙ g_t,  δg_t = δc_t ⊙ i_t,  δf_t = δc_t ⊙ c_{t-1}
        δz_t = [δi ⊙ i(1-i),  δf ⊙ f(1-f),  δg ⊙ (1-g²),  δo ⊙ o(1-o)]           through σ and tanh
        ∂L/∂W_ih += δz_tᵀ x_t,  ∂L/∂W_hh += δz_tᵀ h_{t-1},  ∂L/∂b_ih = ∂L/∂b_hh += Σ_batch δz_t
        ∂L/∂x_t = δz_t W_ih,   h_{t-1} receives δz_t W_hh,   c_{t-1} receives δc_t ⊙ f_t

    The last two, after step 1, are ∂L/∂h_0 and ∂L/∂c_0. The term δc_t ⊙ f_t is the "constant error
    carousel": with f ≈ 1 the cell-state gradient passes back unchanged.

    Args:
        params: the weights used in the forward pass.
        cache: from `lstm_forward`.
        dhs: direct gradients dL/dh_t, shaped as hs: (T, H) or (T, B, H); None means zeros.
        dh_final, dc_final: extra gradients on h_T and c_T (torch's h_n, c_n outputs); None means zeros.

    Returns:
        Gradients {"W_ih", "W_hh", "b_ih", "b_hh", "x", "h0", "c0"}, each shaped as its variable.
    """
    x, T, B, H = cache.x, cache.steps, cache.x.shape[1], params.hidden_size
    dh_direct = per_step(dhs, T, B, H, cache.batched, "dhs")  # (T, B, H)
    dh_next = initial_state(dh_final, B, H, cache.batched, "dh_final")  # (B, H)
    dc_next = initial_state(dc_final, B, H, cache.batched, "dc_final")  # (B, H)
    grads = {k: np.zeros_like(v) for k, v in params.as_dict().items()}
    dx = np.zeros_like(x)  # (T, B, I)
    for t in range(T, 0, -1):
        i, f, g, o = cache.gates_at(t)
        tanh_c = np.tanh(cache.c[t])
        dh = dh_direct[t - 1] + dh_next  # δh_t
        dc = dc_next + dh * o * (1.0 - tanh_c**2)  # δc_t
        di, df, dg, do = dc * g, dc * cache.c[t - 1], dc * i, dh * tanh_c
        dz = np.concatenate([di * i * (1 - i), df * f * (1 - f), dg * (1 - g**2), do * o * (1 - o)], -1)
        grads["W_ih"] += dz.T @ x[t - 1]  # dz: (B, 4H)
        grads["W_hh"] += dz.T @ cache.h[t - 1]
        grads["b_ih"] += dz.sum(axis=0)
        grads["b_hh"] += dz.sum(axis=0)
        dx[t - 1] = dz @ params.W_ih
        dh_next = dz @ params.W_hh
        dc_next = dc * f
    grads["x"] = unbatch(dx, cache.batched, axis=1)
    grads["h0"] = unbatch(dh_next, cache.batched, axis=0)
    grads["c0"] = unbatch(dc_next, cache.batched, axis=0)
    return grads


def lstm_step_jacobians(params: LSTMParams, cache: LSTMCache) -> np.ndarray:
    """Jacobian of the full state s_t = (h_t, c_t) with respect to s_{t-1} = (h_{t-1}, c_{t-1}).

    The state of an LSTM is the pair, so the step Jacobian is 2H x 2H, in blocks

        ∂s_t/∂s_{t-1} = [[∂h_t/∂h_{t-1}, ∂h_t/∂c_{t-1}],
                         [∂c_t/∂h_{t-1}, ∂c_t/∂c_{t-1}]]

    with, writing D(v) = diag(v), W_i, W_f, W_g, W_o the four (H, H) row blocks of W_hh:

        ∂c_t/∂c_{t-1} = D(f_t)                   c_{t-1} enters only through f ⊙ c_{t-1}
        ∂c_t/∂h_{t-1} = D(c_{t-1} f(1-f)) W_f + D(g i(1-i)) W_i + D(i (1-g²)) W_g
        ∂h_t/∂c_{t-1} = D(o (1-tanh² c_t)) ∂c_t/∂c_{t-1}
        ∂h_t/∂h_{t-1} = D(tanh(c_t) o(1-o)) W_o + D(o (1-tanh² c_t)) ∂c_t/∂h_{t-1}

    Returns:
        (T, B, 2H, 2H), or (T, 2H, 2H) for one sequence; entry [t - 1] is the Jacobian of step t.
    """
    H = params.hidden_size
    i, f, g, o = np.split(cache.gates, 4, axis=-1)  # each (T, B, H)
    c_prev, tanh_c = cache.c[:-1], np.tanh(cache.c[1:])  # (T, B, H)
    W_i, W_f, W_g, W_o = np.split(params.W_hh, 4, axis=0)  # each (H, H)

    def D_times(v: np.ndarray, W: np.ndarray) -> np.ndarray:  # noqa: N802  D(v) W per (t, b): (T, B, H, H)
        return v[..., :, None] * W

    dc_dh = D_times(c_prev * f * (1 - f), W_f) + D_times(g * i * (1 - i), W_i) + D_times(i * (1 - g**2), W_g)
    dh_dc_factor = o * (1 - tanh_c**2)  # ∂h_t/∂c_t, diagonal
    J = np.zeros(cache.gates.shape[:2] + (2 * H, 2 * H))  # (T, B, 2H, 2H)
    J[..., :H, :H] = D_times(tanh_c * o * (1 - o), W_o) + dh_dc_factor[..., :, None] * dc_dh
    J[..., :H, H:] = _diag(dh_dc_factor * f)
    J[..., H:, :H] = dc_dh
    J[..., H:, H:] = _diag(f)
    return unbatch(J, cache.batched, axis=1)


def _diag(v: np.ndarray) -> np.ndarray:
    """Batched diag: (..., H) -> (..., H, H)."""
    return v[..., :, None] * np.eye(v.shape[-1])
