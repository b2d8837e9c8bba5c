"""The NumPy reference against torch autograd: the same float64 weights, unrolled in a Python loop.

Every gradient (weights, readout, inputs, initial states) must agree to 1e-10 relative, measured as
||ours - torch|| / ||torch|| per array, with the forward states and the loss value agreeing as well.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from rnnkit.reference import (
    ElmanParams,
    LSTMParams,
    ReadoutParams,
    backward,
    elman_backward,
    elman_forward,
    forward,
    lstm_backward,
    lstm_forward,
    sequence_loss_and_grads,
)

CELLS = [("elman", "tanh"), ("elman", "relu"), ("lstm", "tanh")]
OURS_TO_TORCH = {"W_ih": "weight_ih", "W_hh": "weight_hh", "b_ih": "bias_ih", "b_hh": "bias_hh"}


def _cells(cell: str, nonlinearity: str, input_size: int, hidden_size: int, seed: int):
    """A torch cell in float64 and our params holding a copy of its weights."""
    torch.manual_seed(seed)
    if cell == "lstm":
        torch_cell = torch.nn.LSTMCell(input_size, hidden_size, dtype=torch.float64)
        return torch_cell, LSTMParams.from_torch(torch_cell)
    torch_cell = torch.nn.RNNCell(input_size, hidden_size, nonlinearity=nonlinearity, dtype=torch.float64)
    return torch_cell, ElmanParams.from_torch(torch_cell)


def _torch_unroll(torch_cell, x, h0, c0):
    """h_1..h_T stacked, and the final cell state (None for Elman): the loop the reference mirrors."""
    h, c, hs = h0, c0, []
    for x_t in x.unbind(0):
        if c is None:
            h = torch_cell(x_t, h)
        else:
            h, c = torch_cell(x_t, (h, c))
        hs.append(h)
    return torch.stack(hs), c


def _leaf(a: np.ndarray) -> torch.Tensor:
    return torch.tensor(a, dtype=torch.float64, requires_grad=True)


def _assert_rel(ours: np.ndarray, theirs: torch.Tensor, name: str, tol: float = 1e-10) -> None:
    theirs = theirs.detach().numpy()
    assert ours.shape == theirs.shape, f"{name}: {ours.shape} vs {theirs.shape}"
    rel = np.linalg.norm(ours - theirs) / max(np.linalg.norm(theirs), 1e-300)
    assert rel < tol, f"{name}: relative difference {rel:.2e}"


def _check_external_gradient(cell, nonlinearity, T, B, input_size, hidden_size, seed):
    """L = Σ_t h_t·R_t + h_T·r (+ c_T·q), a random linear functional of the states."""
    torch_cell, params = _cells(cell, nonlinearity, input_size, hidden_size, seed)
    rng = np.random.default_rng(seed)
    lead = (B,) if B else ()  # B = 0 means one sequence without a batch axis
    x = rng.normal(size=(T, *lead, input_size))
    h0, c0 = rng.normal(size=(*lead, hidden_size)), rng.normal(size=(*lead, hidden_size))
    R, r, q = (rng.normal(size=s) for s in [(T, *lead, hidden_size), h0.shape, c0.shape])
    is_lstm = cell == "lstm"

    xt, h0t, c0t = _leaf(x), _leaf(h0), _leaf(c0) if is_lstm else None
    hs_t, c_T = _torch_unroll(torch_cell, xt, h0t, c0t)
    L = (hs_t * torch.from_numpy(R)).sum() + (hs_t[-1] * torch.from_numpy(r)).sum()
    if is_lstm:
        L = L + (c_T * torch.from_numpy(q)).sum()
    L.backward()

    if is_lstm:
        hs, cache = lstm_forward(params, x, h0, c0)
        grads = lstm_backward(params, cache, R, dh_final=r, dc_final=q)
        _assert_rel(cache.c_final, c_T, "c_T", 1e-12)
    else:
        hs, cache = elman_forward(params, x, h0, nonlinearity=nonlinearity)
        grads = elman_backward(params, cache, R, dh_final=r)
    _assert_rel(hs, hs_t, "hs", 1e-12)
    for ours, theirs in OURS_TO_TORCH.items():
        _assert_rel(grads[ours], getattr(torch_cell, theirs).grad, ours)
    _assert_rel(grads["x"], xt.grad, "x")
    _assert_rel(grads["h0"], h0t.grad, "h0")
    if is_lstm:
        _assert_rel(grads["c0"], c0t.grad, "c0")


@pytest.mark.parametrize("batch", [3, 0], ids=["batched", "one-sequence"])
@pytest.mark.parametrize(("cell", "nonlinearity"), CELLS)
def test_external_gradient_matches_autograd(cell, nonlinearity, batch):
    _check_external_gradient(cell, nonlinearity, T=7, B=batch, input_size=3, hidden_size=5, seed=11)


@settings(max_examples=15, deadline=None)
@given(
    cell=st.sampled_from(CELLS),
    T=st.integers(1, 8),
    B=st.integers(0, 4),
    input_size=st.integers(1, 5),
    hidden_size=st.integers(1, 6),
    seed=st.integers(0, 2**16),
)
def test_external_gradient_matches_autograd_for_any_shape(cell, T, B, input_size, hidden_size, seed):
    _check_external_gradient(*cell, T=T, B=B, input_size=input_size, hidden_size=hidden_size, seed=seed)


@pytest.mark.parametrize("loss", ["squared", "cross_entropy"])
@pytest.mark.parametrize(("cell", "nonlinearity"), CELLS)
def test_sequence_loss_and_grads_match_autograd(cell, nonlinearity, loss):
    T, B, input_size, hidden_size, outputs = 6, 3, 4, 5, 7
    torch_cell, params = _cells(cell, nonlinearity, input_size, hidden_size, seed=5)
    linear = torch.nn.Linear(hidden_size, outputs, dtype=torch.float64)
    readout = ReadoutParams.from_torch(linear)
    rng = np.random.default_rng(5)
    x, h0, c0 = rng.normal(size=(T, B, input_size)), rng.normal(size=(B, hidden_size)), None
    if cell == "lstm":
        c0 = rng.normal(size=(B, hidden_size))
    if loss == "squared":
        targets = rng.normal(size=(T, B, outputs))
    else:
        targets = rng.integers(0, outputs, size=(T, B))

    xt, h0t = _leaf(x), _leaf(h0)
    c0t = None if c0 is None else _leaf(c0)
    hs_t, _ = _torch_unroll(torch_cell, xt, h0t, c0t)
    y = linear(hs_t)  # (T, B, O)
    if loss == "squared":
        L_t = 0.5 * ((y - torch.from_numpy(targets)) ** 2).sum()
    else:
        L_t = F.cross_entropy(y.reshape(-1, outputs), torch.from_numpy(targets).reshape(-1), reduction="sum")
    L_t.backward()

    L, grads = sequence_loss_and_grads(params, readout, x, targets, loss, h0=h0, c0=c0,
                                       nonlinearity=nonlinearity)
    assert L == pytest.approx(L_t.item(), rel=1e-12)
    for ours, theirs in OURS_TO_TORCH.items():
        _assert_rel(grads[ours], getattr(torch_cell, theirs).grad, ours)
    _assert_rel(grads["W_hy"], linear.weight.grad, "W_hy")
    _assert_rel(grads["b_y"], linear.bias.grad, "b_y")
    _assert_rel(grads["x"], xt.grad, "x")
    _assert_rel(grads["h0"], h0t.grad, "h0")
    if c0t is not None:
        _assert_rel(grads["c0"], c0t.grad, "c0")


def test_weights_copy_both_ways():
    torch_cell, params = _cells("lstm", "tanh", 3, 4, seed=0)
    for ours, theirs in OURS_TO_TORCH.items():
        np.testing.assert_array_equal(getattr(params, ours), getattr(torch_cell, theirs).detach().numpy())
    assert (params.input_size, params.hidden_size) == (3, 4)
    same = LSTMParams.from_dict(torch_cell.state_dict())
    np.testing.assert_array_equal(same.W_hh, params.W_hh)

    other = torch.nn.LSTMCell(3, 4, dtype=torch.float64)
    other.load_state_dict({k: torch.from_numpy(v) for k, v in params.to_state_dict().items()})
    np.testing.assert_array_equal(other.weight_ih.detach().numpy(), params.W_ih)

    d = params.as_dict()
    d["W_ih"][0, 0] += 1.0  # a writable copy: the frozen params stay as they were
    assert params.W_ih[0, 0] != d["W_ih"][0, 0]
    with pytest.raises(ValueError):
        params.W_ih[0, 0] = 0.0  # read-only arrays


def test_cell_without_bias_gets_zero_biases():
    params = ElmanParams.from_torch(torch.nn.RNNCell(2, 3, bias=False, dtype=torch.float64))
    np.testing.assert_array_equal(params.b_ih, np.zeros(3))
    np.testing.assert_array_equal(params.b_hh, np.zeros(3))
    readout = ReadoutParams.from_torch(torch.nn.Linear(3, 2, bias=False))
    np.testing.assert_array_equal(readout.b_y, np.zeros(2))


def test_init_matches_torch_ranges_and_shapes():
    params = LSTMParams.init(3, 5, rng=0)
    assert params.W_ih.shape == (20, 3) and params.W_hh.shape == (20, 5) and params.b_ih.shape == (20,)
    assert np.abs(params.W_hh).max() <= 1 / np.sqrt(5)
    same = LSTMParams.init(3, 5, rng=np.random.default_rng(0))
    np.testing.assert_array_equal(params.W_hh, same.W_hh)


def test_mistakes_raise_value_errors_that_say_what_was_expected():
    params = ElmanParams.init(3, 4, rng=0)
    with pytest.raises(ValueError, match=r"expected \(T, 3\) or \(T, B, 3\)"):
        elman_forward(params, np.zeros((5, 2)))
    with pytest.raises(ValueError, match="h0 has shape"):
        elman_forward(params, np.zeros((5, 2, 3)), h0=np.zeros(4))
    with pytest.raises(ValueError, match="nonlinearity"):
        elman_forward(params, np.zeros((5, 3)), nonlinearity="sigmoid")
    _, cache = elman_forward(params, np.zeros((5, 3)))
    with pytest.raises(ValueError, match="dhs has shape"):
        elman_backward(params, cache, np.zeros((4, 4)))
    with pytest.raises(ValueError, match="dc_final"):
        backward(params, cache, None, dc_final=np.zeros(4))
    with pytest.raises(ValueError, match="c0"):
        forward(params, np.zeros((5, 3)), c0=np.zeros(4))
    with pytest.raises(ValueError, match="W_hh"):
        LSTMParams(W_ih=np.zeros((4, 3)), W_hh=np.zeros((4, 4)), b_ih=np.zeros(4), b_hh=np.zeros(4))
    with pytest.raises(ValueError, match="unknown keys"):
        ElmanParams.from_dict({**params.as_dict(), "W_xh": np.zeros(1)})
    readout = ReadoutParams.init(4, 2, rng=0)
    with pytest.raises(ValueError, match="loss"):
        sequence_loss_and_grads(params, readout, np.zeros((5, 3)), np.zeros(5, int), loss="hinge")
    with pytest.raises(ValueError, match=r"\[0, 2\)"):
        sequence_loss_and_grads(params, readout, np.zeros((5, 3)), np.full(5, 2), loss="cross_entropy")
    with pytest.raises(ValueError, match="squared-error targets"):
        sequence_loss_and_grads(params, readout, np.zeros((5, 3)), np.zeros((5, 3)), loss="squared")
