"""The hand-written GRU backpropagation through time against autograd over the textbook cell."""

from __future__ import annotations

import pytest
import torch

import rnnkit as rk
from rnnkit.nn import GRUCell
from rnnkit.nn import recurrent as recurrent_module
from rnnkit.nn.gru_bptt import gru_unroll

from .helpers import assert_close


def ours(cell: GRUCell, x, h0, mask, ragged_from=0):
    return gru_unroll(x, cell.weight_ih, cell.bias_ih, cell.weight_hh, cell.bias_hh, h0, mask, ragged_from)


def autograd_recurrence(cell: GRUCell, x, h0, mask):
    """The same recurrence through ``GRUCell.step``, recorded by autograd step by step."""
    state, outputs = h0, []
    for t, x_t in enumerate(cell.input_projection(x).unbind(0)):
        h, new_state = cell.step(x_t, state)
        if mask is not None:
            new_state = torch.where(mask[t], new_state, state)
            h = h * mask[t]
        state = new_state
        outputs.append(h)
    return torch.stack(outputs), state


def inputs(dtype, steps=6, batch_size=4, hidden_size=3, lengths=None, seed=0, bias=True):
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    cell = GRUCell(2, hidden_size, bias=bias).to(dtype)
    x = torch.randn(steps, batch_size, 2, generator=generator, dtype=dtype, requires_grad=True)
    h0 = torch.randn(batch_size, hidden_size, generator=generator, dtype=dtype, requires_grad=True)
    mask = None if lengths is None else (torch.arange(steps).unsqueeze(1) < torch.tensor(lengths)).unsqueeze(2)
    return cell, x, h0, mask


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("lengths", [None, [6, 2, 1, 4]])
@pytest.mark.parametrize("bias", [True, False])
def test_values_and_gradients_equal_autograd_over_the_cell(dtype, lengths, bias):
    cell, x, h0, mask = inputs(dtype, lengths=lengths, bias=bias)
    ragged_from = 6 if lengths is None else min(lengths)
    result = ours(cell, x, h0, mask, ragged_from)
    expected = autograd_recurrence(cell, x, h0, mask)
    generator = torch.Generator().manual_seed(1)
    weights = [torch.randn(part.shape, generator=generator, dtype=dtype) for part in expected]
    differentiated = (x, h0, *cell.parameters())
    grads = torch.autograd.grad(sum((p * w).sum() for p, w in zip(result, weights, strict=True)), differentiated)
    expected_grads = torch.autograd.grad(
        sum((p * w).sum() for p, w in zip(expected, weights, strict=True)), differentiated)
    for name, a, b in zip(("outputs", "h_T"), result, expected, strict=True):
        assert_close(a, b, name)
    names = ("x", "h0", *(name for name, _ in cell.named_parameters()))
    for name, a, b in zip(names, grads, expected_grads, strict=True):
        assert_close(a, b, f"grad {name}")
    if lengths is not None:
        assert torch.all(result[0][2:, 2] == 0)


@pytest.mark.parametrize("lengths", [None, [5, 3, 1, 5]])
def test_gradcheck_in_float64(lengths):
    cell, x, h0, mask = inputs(torch.float64, steps=5, batch_size=4, hidden_size=2, lengths=lengths)
    parameters = [p.detach().requires_grad_() for p in (cell.weight_ih, cell.bias_ih, cell.weight_hh, cell.bias_hh)]
    ragged_from = 5 if lengths is None else min(lengths)
    assert torch.autograd.gradcheck(
        lambda x, w_ih, b_ih, w_hh, b_hh, h0: gru_unroll(x, w_ih, b_ih, w_hh, b_hh, h0, mask, ragged_from),
        (x, *parameters, h0))


def test_without_gradients_the_forward_pass_gives_the_same_values():
    cell, x, h0, mask = inputs(torch.float32, lengths=[6, 2, 1, 4])
    with torch.no_grad():
        plain = ours(cell, x, h0, mask, 1)
    for a, b in zip(plain, ours(cell, x, h0, mask, 1), strict=True):
        assert torch.equal(a, b.detach())


def test_the_explicit_gru_layer_runs_it_and_equals_torch(monkeypatch):
    calls = []

    def counting(*args):
        calls.append(1)
        return gru_unroll(*args)

    monkeypatch.setattr(recurrent_module, "gru_unroll", counting)
    torch.manual_seed(0)
    ours_layer = rk.nn.GRU(3, 5, num_layers=2, bidirectional=True, backend="explicit")
    theirs = torch.nn.GRU(3, 5, num_layers=2, bidirectional=True, batch_first=True)
    theirs.load_state_dict(ours_layer.state_dict())
    x = torch.randn(2, 7, 3, requires_grad=True)
    lengths = torch.tensor([7, 4])
    out, h = ours_layer(x, lengths)
    packed = torch.nn.utils.rnn.pack_padded_sequence(x, lengths, batch_first=True)
    expected, expected_h = theirs(packed)
    expected, _ = torch.nn.utils.rnn.pad_packed_sequence(expected, batch_first=True, total_length=7)
    assert calls
    assert_close(out, expected, "outputs")
    assert_close(h, expected_h, "h")
    grads = torch.autograd.grad(out.sum() + h.sum(), (x, *ours_layer.parameters()))
    expected_grads = torch.autograd.grad(expected.sum() + expected_h.sum(), (x, *theirs.parameters()))
    for a, b in zip(grads, expected_grads, strict=True):
        assert_close(a, b, "grad")
