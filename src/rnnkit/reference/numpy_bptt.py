"""The lecture's whole derivation in one place: readout, loss summed over time, BPTT, and Jacobian products.

    y_t = W_hy h_t + b_y                       a readout at every step t = 1..T
    L   = Σ_t ℓ_t(y_t, target_t)                summed over time (and over the batch)

    ℓ_t = ½ ||y_t - target_t||²                 "squared":       ∂ℓ_t/∂y_t = y_t - target_t
    ℓ_t = -log softmax(y_t)[target_t]           "cross_entropy": ∂ℓ_t/∂y_t = softmax(y_t) - onehot(target_t)

Backward through the readout gives ∂L/∂W_hy = Σ_t (∂ℓ_t/∂y_t)ᵀ h_t, ∂L/∂b_y = Σ_t ∂ℓ_t/∂y_t and the direct
gradients ∂ℓ_t/∂h_t = (∂ℓ_t/∂y_t) W_hy, which the cell's BPTT loop (elman.py, lstm.py) turns into gradients
for its weights, the inputs and the initial state.

Why gradients vanish or explode: the gradient that ℓ_t sends to an earlier state h_k is
∂ℓ_t/∂h_k = ∂ℓ_t/∂h_t · ∂h_t/∂h_k with

    ∂h_t/∂h_k = Π_{j=k+1..t} ∂h_j/∂h_{j-1}    (product taken right to left: J_t ⋯ J_{k+1})

For the Elman cell J_j = diag(φ'(a_j)) W_hh, so ||∂h_t/∂h_k|| ≤ (max|φ'| ||W_hh||)^{t-k}: it shrinks
geometrically when that base is below 1 and can grow geometrically when it is above. `jacobian_product`
and `jacobian_norms` compute these matrices and their norms for a cached forward pass.
"""

from __future__ import annotations

import numpy as np

from ._shapes import unbatch
from .elman import ElmanCache, elman_backward, elman_forward, elman_step_jacobians
from .lstm import LSTMCache, lstm_backward, lstm_forward, lstm_step_jacobians
from .params import ElmanParams, LSTMParams, ReadoutParams

LOSSES = ("squared", "cross_entropy")


def squared_error(y: np.ndarray, target) -> tuple[float, np.ndarray]:
    """L = Σ ½ (y - target)² over all entries; returns (L, ∂L/∂y). y, target: (T, B, O)."""
    target = np.asarray(target, dtype=np.float64)
    if target.shape != y.shape:
        raise ValueError(f"squared-error targets have shape {target.shape}; expected {y.shape}")
    r = y - target
    return 0.5 * float(np.sum(r**2)), r


def softmax_cross_entropy(y: np.ndarray, target) -> tuple[float, np.ndarray]:
    """L = Σ_{t,b} -log softmax(y_{t,b})[target_{t,b}]; returns (L, ∂L/∂y).

    y: (T, B, O) scores; target: (T, B) class ids in [0, O).
    """
    target = np.asarray(target)
    classes = y.shape[-1]
    if target.shape != y.shape[:-1] or not np.issubdtype(target.dtype, np.integer):
        raise ValueError(
            f"cross-entropy targets are {target.dtype} {target.shape}; expected integers {y.shape[:-1]}"
        )
    if target.size and (target.min() < 0 or target.max() >= classes):
        raise ValueError(
            f"cross-entropy targets must lie in [0, {classes}); got {target.min()}..{target.max()}"
        )
    z = y - y.max(axis=-1, keepdims=True)  # shift for stability; softmax is unchanged
    log_p = z - np.log(np.exp(z).sum(axis=-1, keepdims=True))  # (T, B, O)
    picked = np.take_along_axis(log_p, target[..., None], axis=-1)
    dy = np.exp(log_p)
    np.put_along_axis(dy, target[..., None], np.take_along_axis(dy, target[..., None], axis=-1) - 1.0, -1)
    return -float(picked.sum()), dy


def _forward(params, x, h0, c0, nonlinearity):
    if isinstance(params, LSTMParams):
        if nonlinearity != "tanh":
            raise ValueError(f"nonlinearity {nonlinearity!r} is for the Elman cell; the LSTM has fixed ones")
        return lstm_forward(params, x, h0, c0)
    if isinstance(params, ElmanParams):
        if c0 is not None:
            raise ValueError("c0 was given, but an Elman cell has no cell state")
        return elman_forward(params, x, h0, nonlinearity)
    raise ValueError(f"params is {type(params).__name__}; expected ElmanParams or LSTMParams")


def sequence_loss_and_grads(
    params: ElmanParams | LSTMParams,
    readout: ReadoutParams,
    x,
    targets,
    loss: str = "squared",
    h0=None,
    c0=None,
    nonlinearity: str = "tanh",
) -> tuple[float, dict[str, np.ndarray]]:
    """Forward, readout at every step, loss summed over time, and BPTT: the lecture's full example.

    Args:
        params: Elman or LSTM weights.
        readout: W_hy (O, H), b_y (O,).
        x: inputs, (T, I) or (T, B, I).
        targets: "squared": (T, O) or (T, B, O) floats; "cross_entropy": (T,) or (T, B) class ids.
        loss: "squared" or "cross_entropy".
        h0, c0: initial states (c0 for the LSTM only); zeros when None.
        nonlinearity: "tanh" or "relu" for the Elman cell.

    Returns:
        L = Σ_t ℓ_t (summed over the batch too) and its gradients {"W_ih", "W_hh", "b_ih", "b_hh", "W_hy",
        "b_y", "x", "h0"} (+ "c0" for the LSTM), each shaped as its variable.
    """
    if loss not in LOSSES:
        raise ValueError(f"loss is {loss!r}; expected one of {LOSSES}")
    _, cache = _forward(params, x, h0, c0, nonlinearity)
    h = cache.h[1:]  # (T, B, H)
    y = h @ readout.W_hy.T + readout.b_y  # (T, B, O)
    if loss == "squared":
        t3 = np.asarray(targets, dtype=np.float64)
        L, dy = squared_error(y, t3 if cache.batched else t3[:, None])
    else:
        t2 = np.asarray(targets)
        L, dy = softmax_cross_entropy(y, t2 if cache.batched else t2[:, None])
    dh_direct = dy @ readout.W_hy  # (T, B, H): ∂ℓ_t/∂h_t through the readout only
    dhs = unbatch(dh_direct, cache.batched, axis=1)
    if isinstance(cache, LSTMCache):
        grads = lstm_backward(params, cache, dhs)
    else:
        grads = elman_backward(params, cache, dhs)
    grads["W_hy"] = np.einsum("tbo,tbh->oh", dy, h)
    grads["b_y"] = dy.sum(axis=(0, 1))
    return L, grads


def step_jacobians(params: ElmanParams | LSTMParams, cache: ElmanCache | LSTMCache) -> np.ndarray:
    """∂s_t/∂s_{t-1} for t = 1..T, where the state s is h (Elman) or the pair (h, c) stacked (LSTM).

    Returns:
        (T, S, S) for one sequence, (T, B, S, S) for a batch; S = H (Elman) or 2H (LSTM, blocks
        [[∂h/∂h, ∂h/∂c], [∂c/∂h, ∂c/∂c]]). Entry [t - 1] belongs to step t.
    """
    if isinstance(cache, LSTMCache):
        return lstm_step_jacobians(params, cache)
    return elman_step_jacobians(params, cache)


def jacobian_product(params, cache, t: int, k: int = 0) -> np.ndarray:
    """∂s_t/∂s_k = J_t J_{t-1} ⋯ J_{k+1}, with J_j = ∂s_j/∂s_{j-1} and 0 ≤ k ≤ t ≤ T (s_0 = initial state).

    For the Elman cell s = h and this is the lecture's ∂h_t/∂h_k. For the LSTM s = (h, c) and the result
    is 2H x 2H: its block [:H, :H] is ∂h_t/∂h_k with c_k held fixed, [H:, H:] is ∂c_t/∂c_k with h_k
    held fixed (≈ Π f_j when the recurrent weights are small: the path the LSTM keeps open).

    Returns:
        (S, S) for one sequence or (B, S, S) for a batch; the identity when t == k.
    """
    T = cache.steps
    if not 0 <= k <= t <= T:
        raise ValueError(f"need 0 <= k <= t <= T={T}; got t={t}, k={k}")
    J = step_jacobians(params, cache)
    J = J if cache.batched else J[:, None]  # (T, B, S, S)
    P = np.broadcast_to(np.eye(J.shape[-1]), J.shape[1:]).copy()  # (B, S, S): ∂s_k/∂s_k
    for j in range(k + 1, t + 1):
        P = J[j - 1] @ P  # ∂s_j/∂s_k = J_j ∂s_{j-1}/∂s_k
    return unbatch(P, cache.batched, axis=0)


def jacobian_norms(params, cache, k: int = 0, ord=2) -> np.ndarray:
    """||∂s_t/∂s_k|| for t = k..T (default: spectral norm), the curve the lecture plots.

    Returns:
        (T - k + 1,) for one sequence or (T - k + 1, B) for a batch; the first entry is ||I|| = 1.
    """
    T = cache.steps
    if not 0 <= k <= T:
        raise ValueError(f"need 0 <= k <= T={T}; got k={k}")
    J = step_jacobians(params, cache)
    J = J if cache.batched else J[:, None]  # (T, B, S, S)
    P = np.broadcast_to(np.eye(J.shape[-1]), J.shape[1:]).copy()
    norms = [np.linalg.norm(P, ord=ord, axis=(-2, -1))]
    for j in range(k + 1, T + 1):
        P = J[j - 1] @ P
        norms.append(np.linalg.norm(P, ord=ord, axis=(-2, -1)))
    return unbatch(np.stack(norms), cache.batched, axis=1)


def forward(params: ElmanParams | LSTMParams, x, h0=None, c0=None, nonlinearity: str = "tanh"):
    """`elman_forward` or `lstm_forward`, chosen by the type of `params`; returns (hs, cache)."""
    return _forward(params, x, h0, c0, nonlinearity)


def backward(params, cache, dh_outputs, dh_final=None, dc_final=None) -> dict[str, np.ndarray]:
    """The "external gradient" form: `elman_backward` or `lstm_backward`, chosen by the cache.

    Args:
        dh_outputs: dL/dh_t for t = 1..T, shaped as hs, for any loss L (e.g. from torch autograd).
        dh_final, dc_final: extra gradients on the final state; dc_final is for the LSTM only.
    """
    if isinstance(cache, LSTMCache):
        return lstm_backward(params, cache, dh_outputs, dh_final, dc_final)
    if dc_final is not None:
        raise ValueError("dc_final was given, but an Elman cell has no cell state")
    return elman_backward(params, cache, dh_outputs, dh_final)
