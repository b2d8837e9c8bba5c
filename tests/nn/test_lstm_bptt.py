"""The hand-written LSTM backpropagation through time against autograd over the textbook cell."""

from __future__ import annotations

import pytest
import torch

import rnnkit as rk
from rnnkit.nn import LSTMCell, lstm_bptt
from rnnkit.nn.cells import bias_sum
from rnnkit.nn.lstm_bptt import lstm_unroll

from .helpers import assert_close


def ours(cell: LSTMCell, x, h0, c0, mask, ragged_from=0):
    bias = None if cell.bias_ih is None else bias_sum(cell.bias_ih, cell.bias_hh)
    return lstm_unroll(x, cell.weight_ih, bias, cell.weight_hh, h0, c0, mask, ragged_from)


def autograd_recurrence(cell: LSTMCell, x, h0, c0, mask):
    """The same recurrence through ``LSTMCell.step``, recorded by autograd step by step."""
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
    cell = LSTMCell(2, hidden_size, bias=bias).to(dtype)
    x = torch.randn(steps, batch_size, 2, generator=generator, dtype=dtype)
    h0 = torch.randn(batch_size, hidden_size, generator=generator, dtype=dtype)
    c0 = torch.randn(batch_size, hidden_size, generator=generator, dtype=dtype)
    mask = None if lengths is None else (torch.arange(steps).unsqueeze(1) < torch.tensor(lengths)).unsqueeze(2)
    for tensor in (x, h0, c0):
        tensor.requires_grad_(True)
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
        assert torch.all(result[0][2:, 2] == 0)  # the sequence of length 2 has zero outputs after its end


@pytest.mark.parametrize("lengths", [None, [6, 3, 1, 6]])
def test_gradcheck_in_float64(lengths):
    cell, x, h0, c0, mask = inputs(torch.float64, steps=5, batch_size=4, hidden_size=2, lengths=lengths)
    weight_ih, weight_hh = cell.weight_ih.detach().requires_grad_(), cell.weight_hh.detach().requires_grad_()
    bias = torch.randn(8, dtype=torch.float64, requires_grad=True)
    ragged_from = 5 if lengths is None else min(lengths)
    assert torch.autograd.gradcheck(lambda *a: lstm_unroll(*a, mask, ragged_from),
                                    (x, weight_ih, bias, weight_hh, h0, c0))


def test_only_used_outputs_and_unneeded_gradients():
    cell, x, h0, c0, _ = inputs(torch.float64)
    h0.requires_grad_(False)
    cell.weight_ih.requires_grad_(False)
    _, h, _ = ours(cell, x, h0, c0, None)
    grads = torch.autograd.grad(h.sum(), (x, cell.weight_hh))
    _, expected_h, _ = autograd_recurrence(cell, x, h0, c0, None)
    expected = torch.autograd.grad(expected_h.sum(), (x, cell.weight_hh))
    assert_close(grads[0], expected[0], "grad x through h_T only")
    assert_close(grads[1], expected[1], "grad weight_hh through h_T only")


def test_the_explicit_lstm_layer_runs_it_and_steps_aside_under_autocast(monkeypatch):
    calls = []
    import rnnkit.nn.recurrent as recurrent

    def counting(*args):
        calls.append(1)
        return lstm_unroll(*args)

    monkeypatch.setattr(recurrent, "lstm_unroll", counting)
    layer = rk.nn.LSTM(3, 4, num_layers=2, bidirectional=True, backend="explicit")
    x = torch.randn(2, 5, 3)
    reference, _ = layer(x)
    assert len(calls) == 4  # 2 layers x 2 directions
    with torch.autocast("cpu", dtype=torch.bfloat16):
        autocast_output, _ = layer(x)
    assert len(calls) == 4  # the autograd loop ran
    assert (autocast_output.float() - reference).abs().max() < 0.05


@pytest.mark.parametrize("lengths", [None, [6, 2, 1, 4]])
def test_without_gradients_the_forward_pass_gives_the_same_values(monkeypatch, lengths):
    cell, x, h0, c0, mask = inputs(torch.float32, lengths=lengths)
    ragged_from = 6 if lengths is None else min(lengths)
    with_graph = ours(cell, x, h0, c0, mask, ragged_from)

    def refuse(*args):
        raise AssertionError("no autograd function without gradients")

    monkeypatch.setattr(lstm_bptt.LSTMUnroll, "apply", refuse)
    with torch.no_grad():
        without = ours(cell, x, h0, c0, mask, ragged_from)
    for name, a, b in zip(("outputs", "h_T", "c_T"), with_graph, without, strict=True):
        assert torch.equal(a.detach(), b), name


def test_a_retained_graph_gives_the_same_gradients_twice():
    cell, x, h0, c0, mask = inputs(torch.float64, lengths=[6, 2, 1, 4])
    outputs, h, c = ours(cell, x, h0, c0, mask, 1)
    loss = outputs.sum() + h.sum() + c.sum()
    first = torch.autograd.grad(loss, (x, cell.weight_hh), retain_graph=True)
    second = torch.autograd.grad(loss, (x, cell.weight_hh))
    for a, b in zip(first, second, strict=True):
        assert torch.equal(a, b)  # the backward pass leaves the saved tensors as they were
