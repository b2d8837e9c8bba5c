"""The recurrent layers recorded by ``torch.export`` (one scan per layer and direction, lengths as an input) give
the eager layer's numbers for lengths, batch sizes and time axes other than the recorded example's."""

from __future__ import annotations

import pytest
import torch

import rnnkit as rk
from rnnkit.nn.exportable import exportable_forward


class Wrapped(torch.nn.Module):
    def __init__(self, layer: torch.nn.Module) -> None:
        super().__init__()
        self.layer = layer

    def forward(self, x, lengths, h, c):
        state = (h, c) if self.layer.has_cell_state else h
        output, final = self.layer(x, lengths=lengths, state=state)
        if isinstance(final, tuple):
            return output, final[0], final[1]
        return output, final, final


def layers():
    return [rk.nn.LSTM(3, 5, num_layers=2, bidirectional=True), rk.nn.GRU(3, 5, bidirectional=True),
            rk.nn.RNN(3, 5, num_layers=2), rk.nn.LSTM(3, 5, backend="explicit")]


@pytest.mark.parametrize("index", [0, *(pytest.param(index, marks=pytest.mark.slow) for index in range(1, 4))])
def test_exportable_forward_equals_the_eager_layer_for_any_lengths(index):
    """Scans run eagerly here take seconds each (torch traces the step): the bidirectional LSTM stack by default."""
    torch.manual_seed(index)
    layer = layers()[index].eval()
    x = torch.randn(4, 7, 3)
    lengths = torch.tensor([7, 2, 5, 1])
    rows = layer.num_layers * layer.num_directions
    state = (torch.randn(rows, 4, 5), torch.randn(rows, 4, 5)) if layer.has_cell_state else torch.randn(rows, 4, 5)
    expected, expected_final = layer(x, lengths, state)
    output, final = exportable_forward(layer, x, lengths, state)
    assert torch.allclose(output, expected, atol=1e-6)
    for got, want in zip(final if isinstance(final, tuple) else (final,),
                         expected_final if isinstance(expected_final, tuple) else (expected_final,), strict=True):
        assert torch.allclose(got, want, atol=1e-6)


@pytest.mark.slow
def test_torch_export_takes_other_lengths_and_shapes_than_the_example():
    torch.manual_seed(0)
    layer = rk.nn.LSTM(3, 5, bidirectional=True).eval()
    module = Wrapped(layer)
    batch, time = torch.export.Dim("batch", min=1), torch.export.Dim("time", min=1)
    example = (torch.randn(2, 4, 3), torch.tensor([4, 4]), torch.zeros(2, 2, 5), torch.zeros(2, 2, 5))
    program = torch.export.export(module, example, dynamic_shapes=(
        {0: batch, 1: time}, {0: batch}, {1: batch}, {1: batch}))
    x, lengths = torch.randn(5, 9, 3), torch.tensor([9, 3, 1, 6, 8])
    h, c = torch.randn(2, 5, 5), torch.randn(2, 5, 5)
    for got, want in zip(program.module()(x, lengths, h, c), module(x, lengths, h, c), strict=True):
        assert torch.allclose(got, want, atol=1e-5)
