"""The hand-written LSTM backpropagation through time against autograd over the textbook cell."""

from __future__ import annotations

import pytest
import torch

import rnnkit as rk
from rnnkit.nn import LSTMCell
from rnnkit.nn.lstm_bptt import lstm_recurrence

from .helpers import assert_close


def autograd_recurrence(cell: LSTMCell, projected, h0, c0, mask):
    """The same recurrence through ``LSTMCell.step``, recorded by autograd step by step."""
    state, outputs = (h0, c0), []
    for t, x_t in enumerate(projected.unbind(0)):
        h, new_state = cell.step(x_t, state)
        if mask is not None:
            new_state = tuple(torch.where(mask[t], new, old) for new, old in zip(new_state, state, strict=True))
            h = h * mask[t]
        state = new_state
        outputs.append(h)
    return torch.stack(outputs), *state


def inputs(dtype, steps=6, batch_size=4, hidden_size=3, lengths=None, seed=0):
    generator = torch.Generator().manual_seed(seed)
    cell = LSTMCell(2, hidden_size).to(dtype)
    projected = torch.randn(steps, batch_size, 4 * hidden_size, generator=generator, dtype=dtype)
    h0 = torch.randn(batch_size, hidden_size, generator=generator, dtype=dtype)
    c0 = torch.randn(batch_size, hidden_size, generator=generator, dtype=dtype)
    mask = None if lengths is None else (torch.arange(steps).unsqueeze(1) < torch.tensor(lengths)).unsqueeze(2)
    for tensor in (projected, h0, c0):
        tensor.requires_grad_(True)
    return cell, projected, h0, c0, mask


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("lengths", [None, [6, 2, 1, 4]])
def test_values_and_gradients_equal_autograd_over_the_cell(dtype, lengths):
    cell, projected, h0, c0, mask = inputs(dtype, lengths=lengths)
    ragged_from = 6 if lengths is None else min(lengths)
    ours = lstm_recurrence(projected, h0, c0, cell.weight_hh, mask, ragged_from)
    expected = autograd_recurrence(cell, projected, h0, c0, mask)
    generator = torch.Generator().manual_seed(1)
    weights = [torch.randn(part.shape, generator=generator, dtype=dtype) for part in expected]
    differentiated = (projected, h0, c0, cell.weight_hh)
    grads = torch.autograd.grad(sum((p * w).sum() for p, w in zip(ours, weights, strict=True)), differentiated)
    expected_grads = torch.autograd.grad(
        sum((p * w).sum() for p, w in zip(expected, weights, strict=True)), differentiated)
    for name, a, b in zip(("outputs", "h_T", "c_T"), ours, expected, strict=True):
        assert_close(a, b, name)
    for name, a, b in zip(("projected", "h0", "c0", "weight_hh"), grads, expected_grads, strict=True):
        assert_close(a, b, f"grad {name}")
    if lengths is not None:
        assert torch.all(ours[0][2:, 2] == 0)  # the sequence of length 2 has zero outputs after its end


@pytest.mark.parametrize("lengths", [None, [6, 3, 1, 6]])
def test_gradcheck_in_float64(lengths):
    _, projected, h0, c0, mask = inputs(torch.float64, steps=5, batch_size=4, hidden_size=2, lengths=lengths)
    weight = torch.randn(8, 2, dtype=torch.float64, requires_grad=True)
    ragged_from = 5 if lengths is None else min(lengths)
    assert torch.autograd.gradcheck(lambda *a: lstm_recurrence(*a, mask, ragged_from), (projected, h0, c0, weight))


def test_only_used_outputs_and_unneeded_gradients():
    cell, projected, h0, c0, _ = inputs(torch.float64)
    h0.requires_grad_(False)
    _, h, _ = lstm_recurrence(projected, h0, c0, cell.weight_hh.detach())
    (grad,) = torch.autograd.grad(h.sum(), projected)
    _, expected_h, _ = autograd_recurrence(cell, projected, h0, c0, None)
    (expected,) = torch.autograd.grad(expected_h.sum(), projected)
    assert_close(grad, expected, "grad projected through h_T only")


def test_the_explicit_lstm_layer_runs_it_and_steps_aside_under_autocast(monkeypatch):
    calls = []
    import rnnkit.nn.recurrent as recurrent

    def counting(*args):
        calls.append(1)
        return lstm_recurrence(*args)

    monkeypatch.setattr(recurrent, "lstm_recurrence", counting)
    layer = rk.nn.LSTM(3, 4, num_layers=2, bidirectional=True, backend="explicit")
    x = torch.randn(2, 5, 3)
    reference, _ = layer(x)
    assert len(calls) == 4  # 2 layers x 2 directions
    with torch.autocast("cpu", dtype=torch.bfloat16):
        autocast_output, _ = layer(x)
    assert len(calls) == 4  # the autograd loop ran
    assert (autocast_output.float() - reference).abs().max() < 0.05
