"""Bad input to the layers: a ValueError naming the argument, what was given and what was expected."""

from __future__ import annotations

import pytest
import torch

import rnnkit as rk


@pytest.fixture(params=["explicit", "fused"])
def lstm(request):
    return rk.nn.LSTM(5, 6, num_layers=2, backend=request.param)


@pytest.mark.parametrize(("x", "lengths", "state", "pattern"), [
    (torch.randn(5), None, None, r"x: got shape \(5,\) \(1-D\); expected \(B, T, I\)"),
    (torch.randn(2, 3, 4, 5), None, None, r"x: got shape \(2, 3, 4, 5\) \(4-D\)"),
    (torch.randn(2, 3, 4), None, None, r"x: got 4 features per step .*expected input_size 5"),
    (torch.ones(2, 3, 5, dtype=torch.long), None, None, r"x: got a torch.int64 tensor; expected floating-point"),
    (torch.randn(0, 3, 5), None, None, r"x: got shape \(0, 3, 5\); expected at least one sequence"),
    (torch.randn(2, 3, 5), torch.tensor([3, 4]), None, r"lengths: got values from 3 to 4; expected each in 1\.\.3"),
    (torch.randn(2, 3, 5), torch.tensor([3, 0]), None, r"lengths: got values from 0 to 3; expected each in 1\.\.3"),
    (torch.randn(2, 3, 5), torch.tensor([3, 2, 1]), None, r"lengths: got shape \(3,\); expected \(2,\)"),
    (torch.randn(2, 3, 5), torch.tensor([[3, 2]]), None, r"lengths: got shape \(1, 2\); expected \(2,\)"),
    (torch.randn(2, 3, 5), torch.tensor([3.0, 2.0]), None, r"lengths: got a torch.float32 tensor; expected integer"),
    (torch.randn(2, 3, 5), None, torch.zeros(2, 2, 6), r"state: got Tensor; expected a pair \(h, c\)"),
    (torch.randn(2, 3, 5), None, (torch.zeros(2, 2, 6), torch.zeros(1, 2, 6)),
     r"state\[1\] \(c\): got shape \(1, 2, 6\); expected \(2, 2, 6\)"),
    (torch.randn(2, 3, 5), None, (torch.zeros(2, 3, 6), torch.zeros(2, 3, 6)),
     r"state\[0\] \(h\): got shape \(2, 3, 6\); expected \(2, 2, 6\)"),
], ids=["rank1", "rank4", "features", "integer_ids", "empty", "too_long", "zero", "count", "rank2_lengths",
        "float_lengths", "state_kind", "state_c_shape", "state_h_batch"])
def test_bad_call_arguments(lstm, x, lengths, state, pattern):
    with pytest.raises(ValueError, match=pattern):
        lstm(x, lengths=lengths, state=state)


def test_wrong_state_shape_for_a_gru():
    with pytest.raises(ValueError, match=r"state: got shape \(1, 2, 7\); expected \(1, 2, 6\)"):
        rk.nn.GRU(5, 6)(torch.randn(2, 3, 5), state=torch.zeros(1, 2, 7))


@pytest.mark.parametrize(("build", "pattern"), [
    (lambda: rk.nn.LSTM(0, 6), r"input_size: got 0; expected a positive integer"),
    (lambda: rk.nn.LSTM(5, 6.5), r"hidden_size: got 6\.5; expected a positive integer"),
    (lambda: rk.nn.GRU(5, 6, num_layers=0), r"num_layers: got 0; expected a positive integer"),
    (lambda: rk.nn.RNN(5, 6, dropout=1.0), r"dropout: got 1\.0; expected a probability in \[0, 1\)"),
    (lambda: rk.nn.RNN(5, 6, nonlinearity="sigmoid"), r"nonlinearity: got 'sigmoid'; expected 'tanh' or 'relu'"),
    (lambda: rk.nn.LSTM(5, 6, backend="cudnn"), r"backend: got 'cudnn'; expected one of 'auto', 'explicit'"),
    (lambda: rk.nn.Recurrent(rk.nn.LayerNormLSTMCell, 5, 6, backend="fused"),
     r"backend: got 'fused' for LayerNormLSTMCell, which has no fused torch kernel"),
    (lambda: rk.nn.LSTMCell(5, 6, bias=False, forget_bias=1.0), r"forget_bias: got 1\.0 with bias=False"),
    (lambda: rk.nn.Recurrent(lambda i, h: rk.nn.GRUCell(i, h + 1), 5, 6),
     r"cell_factory: built a cell of sizes \(5, 7\); expected \(5, 6\)"),
], ids=["input_size", "hidden_size", "num_layers", "dropout", "nonlinearity", "backend", "fused_custom",
        "forget_bias", "factory_sizes"])
def test_bad_construction_arguments(build, pattern):
    with pytest.raises(ValueError, match=pattern):
        build()


def test_lengths_as_a_list_are_accepted():
    layer = rk.nn.GRU(5, 6, backend="explicit")
    x = torch.randn(2, 3, 5)
    torch.testing.assert_close(layer(x, [3, 2])[0], layer(x, torch.tensor([3, 2]))[0])
