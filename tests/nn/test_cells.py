"""Cells: equal to torch's cells with copied weights (values and gradients), and to finite differences."""

from __future__ import annotations

import pytest
import torch

import rnnkit as rk
from tests.nn.helpers import assert_close

PAIRS = [
    ("elman_tanh", lambda: rk.nn.ElmanCell(5, 6), lambda: torch.nn.RNNCell(5, 6)),
    ("elman_relu", lambda: rk.nn.ElmanCell(5, 6, nonlinearity="relu"),
     lambda: torch.nn.RNNCell(5, 6, nonlinearity="relu")),
    ("lstm", lambda: rk.nn.LSTMCell(5, 6), lambda: torch.nn.LSTMCell(5, 6)),
    ("gru", lambda: rk.nn.GRUCell(5, 6), lambda: torch.nn.GRUCell(5, 6)),
]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize(("name", "ours_factory", "theirs_factory"), PAIRS, ids=[p[0] for p in PAIRS])
def test_cell_equals_torch_cell(name, ours_factory, theirs_factory, dtype):
    torch.manual_seed(0)
    ours, theirs = ours_factory().to(dtype), theirs_factory().to(dtype)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    ours.load_state_dict(theirs.state_dict())
    x = torch.randn(3, 5, dtype=dtype)
    state = (torch.randn(3, 6, dtype=dtype), torch.randn(3, 6, dtype=dtype)) if name == "lstm" else torch.randn(
        3, 6, dtype=dtype)
    results = []
    for cell in (ours, theirs):
        inputs = x.clone().requires_grad_(True)
        initial = tuple(s.clone().requires_grad_(True) for s in state) if name == "lstm" else state.clone(
        ).requires_grad_(True)
        new_state = cell(inputs, initial)
        parts = list(new_state) if name == "lstm" else [new_state]
        sum((part * (k + 1) * torch.linspace(-1, 1, part.numel(), dtype=dtype).view_as(part)).sum()
            for k, part in enumerate(parts)).backward()
        initial_grads = [s.grad for s in initial] if name == "lstm" else [initial.grad]
        results.append((parts, inputs.grad, initial_grads, {k: p.grad for k, p in cell.named_parameters()}))
    (our_parts, our_dx, our_ds, our_dp), (their_parts, their_dx, their_ds, their_dp) = results
    for a, b in zip(our_parts, their_parts, strict=True):
        assert_close(a, b, "state")
    assert_close(our_dx, their_dx, "d/dx")
    for a, b in zip(our_ds, their_ds, strict=True):
        assert_close(a, b, "d/dstate")
    for key in their_dp:
        assert_close(our_dp[key], their_dp[key], f"d/d{key}")


def test_lstm_forget_bias_is_added_to_the_forget_gate_only():
    torch.manual_seed(0)
    plain = rk.nn.LSTMCell(5, 6)
    torch.manual_seed(0)
    biased = rk.nn.LSTMCell(5, 6, forget_bias=1.0)
    difference = biased.bias_ih - plain.bias_ih
    torch.testing.assert_close(difference[6:12], torch.ones(6))
    assert difference[:6].abs().max() == 0 and difference[12:].abs().max() == 0
    layer = rk.nn.LSTM(5, 6, num_layers=2, forget_bias=1.0)
    assert float(layer.bias_ih_l1.detach()[6:12].mean()) > 0.5


def layer_norm_lstm_by_hand(cell: rk.nn.LayerNormLSTMCell, x, h, c):
    """Ba et al. (2016) eq. 20-22 written out with explicit means and variances."""

    def norm(a, gain, shift):
        mean = a.mean(-1, keepdim=True)
        variance = ((a - mean) ** 2).mean(-1, keepdim=True)
        return gain * (a - mean) / torch.sqrt(variance + cell.eps) + shift

    gates = norm(x @ cell.weight_ih.T, cell.norm_ih_weight, cell.norm_ih_bias) + norm(
        h @ cell.weight_hh.T, cell.norm_hh_weight, cell.norm_hh_bias)
    H = cell.hidden_size
    i, f, g, o = (gates[:, k * H : (k + 1) * H] for k in range(4))
    c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    h = torch.sigmoid(o) * torch.tanh(norm(c, cell.norm_cell_weight, cell.norm_cell_bias))
    return h, c


def test_layer_norm_lstm_cell_equals_the_paper_equations():
    torch.manual_seed(0)
    cell = rk.nn.LayerNormLSTMCell(5, 6).double()
    with torch.no_grad():  # move the gains and shifts off their defaults so they are exercised
        for name, parameter in cell.named_parameters():
            if name.startswith("norm_"):
                parameter.add_(0.3 * torch.randn_like(parameter))
    x, h, c = (torch.randn(3, n, dtype=torch.float64) for n in (5, 6, 6))
    ours = cell(x, (h, c))
    expected = layer_norm_lstm_by_hand(cell, x, h, c)
    for a, b in zip(ours, expected, strict=True):
        assert_close(a, b, "layer-norm LSTM")
    assert sorted(name for name, _ in cell.named_parameters()) == sorted([
        "weight_ih", "weight_hh", "norm_ih_weight", "norm_ih_bias", "norm_hh_weight", "norm_hh_bias",
        "norm_cell_weight", "norm_cell_bias"])


@pytest.mark.parametrize("factory", [
    lambda: rk.nn.ElmanCell(3, 4), lambda: rk.nn.LSTMCell(3, 4), lambda: rk.nn.GRUCell(3, 4),
    lambda: rk.nn.LayerNormLSTMCell(3, 4),
], ids=["elman", "lstm", "gru", "layer_norm_lstm"])
def test_cell_gradients_match_finite_differences(factory):
    torch.manual_seed(0)
    cell = factory().double()
    x = torch.randn(2, 3, dtype=torch.float64, requires_grad=True)
    h = torch.randn(2, 4, dtype=torch.float64, requires_grad=True)
    c = torch.randn(2, 4, dtype=torch.float64, requires_grad=True)
    parameters = tuple(cell.parameters())

    def run(x, h, c, *weights):
        for (name, _), weight in zip(cell.named_parameters(), weights, strict=True):
            cell._parameters[name] = weight
        state = (h, c) if cell.has_cell_state else h
        out = cell(x, state)
        return out if isinstance(out, tuple) else (out,)

    inputs = (x, h, c, *(p.detach().clone().requires_grad_(True) for p in parameters))
    assert torch.autograd.gradcheck(run, inputs, eps=1e-6, atol=1e-8, rtol=1e-6)


def test_recurrent_with_a_custom_cell_equals_a_hand_loop():
    """The layer-equals-hand-loop test, bidirectional and with lengths, on the cell torch does not have."""
    torch.manual_seed(0)
    layer = rk.nn.Recurrent(lambda i, h: rk.nn.LayerNormLSTMCell(i, h), 5, 6, num_layers=2,
                            bidirectional=True).double()
    assert not layer.uses_fused and layer.backend == "auto"
    x = torch.randn(3, 7, 5, dtype=torch.float64)
    lengths = torch.tensor([7, 2, 5])
    output, (h_n, c_n) = layer(x, lengths)
    cells = layer.cells
    for b, length in enumerate(lengths.tolist()):
        layer_input = x[b, :length]  # (T_b, I)
        for level in range(2):
            directions = []
            for direction in range(2):
                cell = cells[2 * level + direction]
                h, c = torch.zeros(1, 6, dtype=torch.float64), torch.zeros(1, 6, dtype=torch.float64)
                steps = range(length) if direction == 0 else reversed(range(length))
                outputs = {}
                for t in steps:
                    h, c = cell(layer_input[t : t + 1], (h, c))
                    outputs[t] = h[0]
                directions.append(torch.stack([outputs[t] for t in range(length)]))
                torch.testing.assert_close(h_n[2 * level + direction, b], h[0], rtol=1e-12, atol=1e-12)
                torch.testing.assert_close(c_n[2 * level + direction, b], c[0], rtol=1e-12, atol=1e-12)
            layer_input = torch.cat(directions, dim=1)
        torch.testing.assert_close(output[b, :length], layer_input, rtol=1e-12, atol=1e-12)
        assert torch.count_nonzero(output[b, length:]) == 0


def test_recurrent_layer_gradients_match_finite_differences():
    torch.manual_seed(0)
    layer = rk.nn.Recurrent(lambda i, h: rk.nn.LayerNormLSTMCell(i, h), 3, 4, bidirectional=True).double()
    x = torch.randn(2, 5, 3, dtype=torch.float64, requires_grad=True)
    lengths = torch.tensor([5, 3])

    def run(x):
        output, (h, c) = layer(x, lengths)
        return output, h, c

    assert torch.autograd.gradcheck(run, (x,), eps=1e-6, atol=1e-8, rtol=1e-6)
