"""The hand-written layer-normalised LSTM backpropagation through time against autograd over the cell."""

from __future__ import annotations

import pytest
import torch

import rnnkit as rk
from rnnkit.nn import LayerNormLSTMCell
from rnnkit.nn import recurrent as recurrent_module
from rnnkit.nn.lnlstm_bptt import lnlstm_cell_unroll, lnlstm_unroll

from .helpers import assert_close


def ours(cell: LayerNormLSTMCell, x, h0, c0, mask, ragged_from=0, native=False):
    """The Python path by default (the C++ kernel has its own tests in test_lnlstm_native.py)."""
    return lnlstm_unroll(cell.input_projection(x), cell.weight_hh, cell.norm_hh_weight, cell.norm_hh_bias,
                         cell.norm_cell_weight, cell.norm_cell_bias, h0, c0, mask, ragged_from, cell.eps, native)


def autograd_recurrence(cell: LayerNormLSTMCell, x, h0, c0, mask):
    """The same recurrence through ``LayerNormLSTMCell.step``, recorded by autograd step by step."""
    state, outputs = (h0, c0), []
    for t, x_t in enumerate(cell.input_projection(x).unbind(0)):
        h, new_state = cell.step(x_t, state)
        if mask is not None:
            new_state = tuple(torch.where(mask[t], new, old) for new, old in zip(new_state, state, strict=True))
            h = h * mask[t]
        state = new_state
        outputs.append(h)
    return torch.stack(outputs), *state


def inputs(dtype, steps=6, batch_size=4, hidden_size=3, lengths=None, seed=0, bias=True):
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    cell = LayerNormLSTMCell(2, hidden_size, bias=bias).to(dtype)
    with torch.no_grad():  # norms away from their initial 1 and 0, so their gradients are tested in general
        for parameter in cell.parameters():
            if parameter.dim() == 1:
                parameter.add_(0.3 * torch.randn(parameter.shape, generator=generator, dtype=dtype))
    x = torch.randn(steps, batch_size, 2, generator=generator, dtype=dtype, requires_grad=True)
    h0 = torch.randn(batch_size, hidden_size, generator=generator, dtype=dtype, requires_grad=True)
    c0 = torch.randn(batch_size, hidden_size, generator=generator, dtype=dtype, requires_grad=True)
    mask = None if lengths is None else (torch.arange(steps).unsqueeze(1) < torch.tensor(lengths)).unsqueeze(2)
    return cell, x, h0, c0, mask


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("lengths", [None, [6, 2, 1, 4]])
@pytest.mark.parametrize("bias", [True, False])
def test_values_and_gradients_equal_autograd_over_the_cell(dtype, lengths, bias):
    cell, x, h0, c0, mask = inputs(dtype, lengths=lengths, bias=bias)
    ragged_from = 6 if lengths is None else min(lengths)
    result = ours(cell, x, h0, c0, mask, ragged_from)
    expected = autograd_recurrence(cell, x, h0, c0, mask)
    generator = torch.Generator().manual_seed(1)
    weights = [torch.randn(part.shape, generator=generator, dtype=dtype) for part in expected]
    differentiated = (x, h0, c0, *cell.parameters())
    grads = torch.autograd.grad(sum((p * w).sum() for p, w in zip(result, weights, strict=True)), differentiated)
    expected_grads = torch.autograd.grad(
        sum((p * w).sum() for p, w in zip(expected, weights, strict=True)), differentiated)
    for name, a, b in zip(("outputs", "h_T", "c_T"), result, expected, strict=True):
        assert_close(a, b, name)
    names = ("x", "h0", "c0", *(name for name, _ in cell.named_parameters()))
    for name, a, b in zip(names, grads, expected_grads, strict=True):
        assert_close(a, b, f"grad {name}")
    if lengths is not None:
        assert torch.all(result[0][2:, 2] == 0)


@pytest.mark.parametrize("lengths", [None, [5, 3, 1, 5]])
def test_gradcheck_in_float64(lengths):
    cell, x, h0, c0, mask = inputs(torch.float64, steps=5, batch_size=3 + 1, hidden_size=2, lengths=lengths)
    projected = cell.input_projection(x).detach().requires_grad_()
    parameters = [p.detach().requires_grad_() for p in (cell.weight_hh, cell.norm_hh_weight, cell.norm_hh_bias,
                                                        cell.norm_cell_weight, cell.norm_cell_bias)]
    ragged_from = 5 if lengths is None else min(lengths)
    assert torch.autograd.gradcheck(
        lambda x, w, gh, bh, gc, bc, h0, c0: lnlstm_unroll(x, w, gh, bh, gc, bc, h0, c0, mask, ragged_from,
                                                           native=False),
        (projected, *parameters, h0, c0))


def test_without_gradients_the_forward_pass_gives_the_same_values():
    cell, x, h0, c0, mask = inputs(torch.float32, lengths=[6, 2, 1, 4])
    with torch.no_grad():
        plain = ours(cell, x, h0, c0, mask, 1)
    for a, b in zip(plain, ours(cell, x, h0, c0, mask, 1), strict=True):
        assert torch.equal(a, b.detach())


def test_the_explicit_layer_runs_it_and_steps_aside_under_autocast(monkeypatch):
    calls = []

    def counting(*args):
        calls.append(1)
        return lnlstm_cell_unroll(*args)

    monkeypatch.setattr(recurrent_module, "lnlstm_cell_unroll", counting)
    layer = rk.nn.Recurrent(LayerNormLSTMCell, 3, 4, num_layers=2, bidirectional=True)
    x = torch.randn(2, 5, 3)
    layer(x, torch.tensor([5, 3]))
    assert len(calls) == 4
    with torch.autocast("cpu", dtype=torch.bfloat16):
        layer(x)
    assert len(calls) == 4
