"""Step Jacobians and their products ∂s_t/∂s_k: against autograd, against BPTT, and the lecture's story.

    ∂h_t/∂h_k = Π_{j=k+1..t} ∂h_j/∂h_{j-1},   Elman: ∂h_j/∂h_{j-1} = diag(φ'(a_j)) W_hh

so ||∂h_t/∂h_k|| ≤ (max|φ'| · ||W_hh||)^{t-k}: it vanishes when that base is below 1 and can explode above.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.autograd.functional import jacobian

from rnnkit.reference import (
    ElmanParams,
    LSTMParams,
    backward,
    elman_forward,
    forward,
    jacobian_norms,
    jacobian_product,
    lstm_forward,
    step_jacobians,
)

CELLS = [("elman", "tanh"), ("elman", "relu"), ("lstm", "tanh")]


def _orthogonal(n: int, rng: np.random.Generator) -> np.ndarray:
    q, r = np.linalg.qr(rng.normal(size=(n, n)))
    return q * np.sign(np.diag(r))


def _setup(cell: str, nonlinearity: str, T=6, input_size=3, hidden_size=4, seed=0):
    """A torch cell and our copy of it, one input sequence x (T, I), initial state(s)."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(T, input_size))
    h0, c0 = rng.normal(size=hidden_size), rng.normal(size=hidden_size)
    if cell == "lstm":
        torch_cell = torch.nn.LSTMCell(input_size, hidden_size, dtype=torch.float64)
        return torch_cell, LSTMParams.from_torch(torch_cell), x, h0, c0
    torch_cell = torch.nn.RNNCell(input_size, hidden_size, nonlinearity=nonlinearity, dtype=torch.float64)
    return torch_cell, ElmanParams.from_torch(torch_cell), x, h0, None


def _autograd_state_jacobian(torch_cell, x, s_k: np.ndarray, t: int, k: int, lstm: bool) -> np.ndarray:
    """∂s_t/∂s_k by autograd: run the torch cell from step k+1 to t, starting at s_k."""
    xs = torch.from_numpy(x)
    H = torch_cell.hidden_size

    def run(s):
        h, c = (s[:H], s[H:]) if lstm else (s, None)
        for j in range(k + 1, t + 1):  # x_j is x[j - 1]
            if lstm:
                h, c = torch_cell(xs[j - 1], (h, c))
            else:
                h = torch_cell(xs[j - 1], h)
        return torch.cat([h, c]) if lstm else h

    return jacobian(run, torch.from_numpy(s_k)).numpy()


@pytest.mark.parametrize(("cell", "nonlinearity"), CELLS)
def test_jacobian_product_matches_autograd(cell, nonlinearity):
    torch_cell, params, x, h0, c0 = _setup(cell, nonlinearity)
    _, cache = forward(params, x, h0, c0, nonlinearity=nonlinearity)
    lstm = cell == "lstm"
    for t, k in [(1, 0), (3, 2), (4, 1), (6, 0), (6, 3), (2, 2)]:
        s_k = np.concatenate([cache.h[k, 0], cache.c[k, 0]]) if lstm else cache.h[k, 0]
        expected = _autograd_state_jacobian(torch_cell, x, s_k, t, k, lstm)
        ours = jacobian_product(params, cache, t, k)
        assert ours.shape == expected.shape == ((8, 8) if lstm else (4, 4))
        np.testing.assert_allclose(ours, expected, rtol=1e-10, atol=1e-13, err_msg=f"t={t}, k={k}")
    np.testing.assert_array_equal(jacobian_product(params, cache, 2, 2), np.eye(8 if lstm else 4))


@pytest.mark.parametrize(("cell", "nonlinearity"), CELLS)
def test_batched_jacobians_are_the_per_sequence_ones(cell, nonlinearity):
    rng = np.random.default_rng(1)
    params = (LSTMParams if cell == "lstm" else ElmanParams).init(3, 4, rng)
    x = rng.normal(size=(5, 2, 3))
    _, cache = forward(params, x, nonlinearity=nonlinearity)
    J = step_jacobians(params, cache)
    S = 8 if cell == "lstm" else 4
    assert J.shape == (5, 2, S, S)
    assert jacobian_product(params, cache, 5, 1).shape == (2, S, S)
    assert jacobian_norms(params, cache, k=1).shape == (5, 2)
    for b in range(2):
        _, one = forward(params, x[:, b], nonlinearity=nonlinearity)
        np.testing.assert_allclose(J[:, b], step_jacobians(params, one), rtol=0, atol=1e-15)
        np.testing.assert_allclose(jacobian_product(params, cache, 5, 1)[b],
                                   jacobian_product(params, one, 5, 1), rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize(("cell", "nonlinearity"), CELLS)
def test_bptt_initial_state_gradient_is_the_sum_of_jacobian_products(cell, nonlinearity):
    """∂L/∂s_0 = Σ_t (∂L/∂h_t direct) ∂h_t/∂s_0: what the BPTT loop computes by carrying one vector back."""
    _, params, x, h0, c0 = _setup(cell, nonlinearity, T=8)
    _, cache = forward(params, x, h0, c0, nonlinearity=nonlinearity)
    dhs = np.random.default_rng(2).normal(size=(8, 4))
    grads = backward(params, cache, dhs)
    total = sum(dhs[t - 1] @ jacobian_product(params, cache, t, 0)[:4] for t in range(1, 9))
    expected = np.concatenate([grads["h0"], grads["c0"]]) if cell == "lstm" else grads["h0"]
    np.testing.assert_allclose(total, expected, rtol=1e-12, atol=1e-14)


def test_small_recurrent_weights_make_gradients_vanish():
    """tanh' ≤ 1 and ||W_hh|| = 0.5 bound ||∂h_t/∂h_0|| by 0.5^t: it decays geometrically with t."""
    rng = np.random.default_rng(3)
    T, H = 30, 6
    d = ElmanParams.init(4, H, rng).as_dict()
    d["W_hh"] = 0.5 * _orthogonal(H, rng)
    params = ElmanParams(**d)
    _, cache = elman_forward(params, rng.normal(size=(T, 4)), nonlinearity="tanh")
    norms = jacobian_norms(params, cache)
    assert norms.shape == (T + 1,) and norms[0] == pytest.approx(1.0)
    assert np.all(np.diff(norms) < 0)
    assert np.all(norms <= 0.5 ** np.arange(T + 1) * (1 + 1e-12))
    assert norms[-1] < 1e-9


def test_large_orthogonal_recurrent_weights_make_gradients_explode_in_the_relu_regime():
    """relu with W_hh = 2P (P a permutation, so orthogonal) and every unit active: J_t = 2P, norm 2^t exactly."""
    rng = np.random.default_rng(4)
    T, H, input_size = 20, 5, 3
    params = ElmanParams(
        W_ih=rng.uniform(0, 1, (H, input_size)),
        W_hh=2.0 * np.eye(H)[rng.permutation(H)],
        b_ih=rng.uniform(0.1, 1, H),
        b_hh=rng.uniform(0.1, 1, H),
    )
    x, h0 = rng.uniform(0, 1, (T, input_size)), rng.uniform(0.1, 1, H)  # all ≥ 0: every a_t > 0
    _, cache = elman_forward(params, x, h0, nonlinearity="relu")
    assert cache.a.min() > 0
    norms = jacobian_norms(params, cache)
    np.testing.assert_allclose(norms, 2.0 ** np.arange(T + 1), rtol=1e-12)


def test_large_orthogonal_recurrent_weights_make_gradients_explode_in_the_linear_tanh_regime():
    """tanh near 0 is linear (tanh' ≈ 1): with W_hh = 1.5 Q and a tiny signal the norm grows as 1.5^t."""
    rng = np.random.default_rng(5)
    T, H = 20, 6
    d = ElmanParams.init(3, H, rng).as_dict()
    d.update(W_hh=1.5 * _orthogonal(H, rng), b_ih=np.zeros(H), b_hh=np.zeros(H))
    params = ElmanParams(**d)
    _, cache = elman_forward(params, 1e-9 * rng.normal(size=(T, 3)), nonlinearity="tanh")
    assert np.abs(cache.a).max() < 1e-3
    norms = jacobian_norms(params, cache)
    assert np.all(np.diff(norms) > 0)
    np.testing.assert_allclose(norms, 1.5 ** np.arange(T + 1), rtol=1e-5)
    assert norms[-1] > 3000


def test_lstm_cell_path_keeps_the_gradient_when_the_forget_gate_is_open():
    """With W_hh = 0 the state h_0 reaches nothing, and ∂c_t/∂c_0 = diag(Π f_j): ≈ I when f ≈ 1."""
    rng = np.random.default_rng(6)
    T, H = 40, 4
    d = LSTMParams.init(3, H, rng).as_dict()
    d["W_hh"] = np.zeros((4 * H, H))
    d["b_ih"][H : 2 * H] = 10.0  # forget-gate bias: f = σ(10 + ...) ≈ 1
    params = LSTMParams(**d)
    _, cache = lstm_forward(params, rng.normal(size=(T, 3)), c0=rng.normal(size=H))
    P = jacobian_product(params, cache, T, 0)  # (2H, 2H)
    f = cache.gates[:, 0, H : 2 * H]  # (T, H)
    np.testing.assert_allclose(P[H:, H:], np.diag(f.prod(axis=0)), rtol=1e-12, atol=1e-300)
    np.testing.assert_array_equal(P[:, :H], 0.0)
    assert np.linalg.norm(P[H:, H:], 2) > 0.99


def test_jacobian_product_checks_its_indices():
    params = ElmanParams.init(2, 3, rng=0)
    _, cache = elman_forward(params, np.zeros((4, 2)))
    for t, k in [(5, 0), (2, 3), (1, -1)]:
        with pytest.raises(ValueError, match="0 <= k <= t <= T=4"):
            jacobian_product(params, cache, t, k)
